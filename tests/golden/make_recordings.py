"""Write the golden recordings (*.jsonl) of tests/golden/. Run from the repository root:

    .venv/bin/python -m tests.golden.make_recordings

then refresh the expected main.py files with
    SCRIPTCACHE_UPDATE_GOLDENS=1 .venv/bin/python -m pytest tests/unit/test_golden.py
"""

from __future__ import annotations

from pathlib import Path

from tests.recordings import Recorder as Run
from tests.recordings import act, defn, param

HERE = Path(__file__).resolve().parent


def login_credentials() -> None:
    run = Run("login", defn([
        {"label": "log_in", "block_type": "login", "url": "https://app.example.test/login"},
        {"label": "open_dashboard", "block_type": "navigation"},
    ], [param("email"), param("password", "credential"), param("otp_secret", "credential")]),
        {"email": "ops@example.test", "password": "hunter2", "otp_secret": "JBSWY3DP"})
    run.block("log_in", "login", [
        act("input_text", "//input[@type='email']", "Type the email", text="ops@example.test",
            parameter_key="email"),
        act("input_text", "//input[@type='password']", "Type the password", text="hunter2",
            parameter_key="password"),
        act("click", "//button[@type='submit']", "Sign in"),
        act("solve_captcha", "//iframe[@title='captcha']", "Solve the captcha"),
        act("input_text", "//input[@name='otp']", "Type the one-time code", text="JBSWY3DP",
            parameter_key="otp_secret"),
        act("complete", None, "Logged in"),
    ], task={"url": "https://app.example.test/login"})
    run.block("open_dashboard", "navigation", [
        act("hover", "//nav//span[text()='Reports']", "Open the reports menu"),
        act("click", "//a[@href='/dashboard']", "Go to the dashboard"),
    ], task={"url": "https://app.example.test/home"})
    run.write(HERE, "login_credentials")


def form_parameters() -> None:
    run = Run("form", defn([
        {"label": "fill_application", "block_type": "task",
         "url": "https://jobs.example.test/apply/{{ job_id }}"},
        {"label": "confirm-submission", "block_type": "action"},
    ], [param("job_id"), param("first_name"), param("country"), param("resume")]),
        {"job_id": "J-7", "first_name": "Ada", "country": "FR", "resume": "/tmp/cv.pdf"})
    run.block("fill_application", "task", [
        act("input_text", "//input[@id='first']", "Type the first name", text="Ada",
            parameter_key="first_name"),
        act("select_option", "//select[@id='country']", "Pick the country", option="FR",
            parameter_key="country"),
        act("upload_file", "//input[@type='file']", "Attach the résumé", text="/tmp/cv.pdf",
            parameter_key="resume"),
        act("input_text", "//textarea", 'Say why', text='I\'m "keen"\n\t— very\u2028keen'),
        act("click", "//input[@type='checkbox']", "Accept the terms"),
        act("scroll", None, "Scroll to the bottom"),
        act("keypress", "//textarea", "Leave the field", text="Tab"),
        act("wait", None, "Let the form validate", text="2"),
        act("click", "//button[text()='Apply']", "Submit the application"),
    ], task={"url": "https://jobs.example.test/apply/J-7"})
    run.block("confirm-submission", "action", [
        act("click", "//button[contains(., 'Confirm')]", "Confirm"),
    ], task={"url": "https://jobs.example.test/apply/J-7/review"})
    run.write(HERE, "form_parameters")


def extraction_schema() -> None:
    schema = {"type": "object", "required": ["invoices"], "properties": {
        "invoices": {"type": "array", "items": {"type": "object", "properties": {
            "total": {"type": "number"}, "number": {"type": "string"},
            "paid": {"type": "boolean"}}}}}}
    run = Run("extract", defn([
        {"label": "read_invoices", "block_type": "extraction",
         "url": "https://billing.example.test/invoices", "data_schema": schema},
        {"label": "download_latest", "block_type": "file_download"},
    ]))
    run.block("read_invoices", "extraction", [
        act("scroll", "//table", "Load every row"),
        act("extract", None, "Read the invoices table"),
    ], task={"url": "https://billing.example.test/invoices",
             "data_extraction_goal": "List every invoice with its number, total and status",
             "extracted_information_schema": schema})
    run.block("download_latest", "file_download", [
        act("drag_and_drop", "//div[@id='a']", "An action type the generator does not know"),
        act("download_file", "(//a[contains(@href, '.pdf')])[1]", "Download the newest PDF"),
    ], task={"url": "https://billing.example.test/invoices"})
    run.write(HERE, "extraction_schema")


def nested_loop() -> None:
    run = Run("nested", defn([{
        "label": "each_region", "block_type": "for_loop", "loop_over": "regions",
        "loop_blocks": [
            {"label": "open_region", "block_type": "navigation",
             "url": "https://stores.example.test/"},
            {"label": "each_store", "block_type": "for_loop", "loop_over": "stores",
             "loop_blocks": [{"label": "read_store", "block_type": "extraction"}]},
        ]}], [param("regions"), param("stores")]),
        {"regions": ["north", "south"], "stores": ["S1", "S2"]})
    for i, region in enumerate(["north", "south"]):
        run.block("open_region", "navigation", [
            act("input_text", "//input[@name='region']", "Type the region", text=region),
            act("click", "//button[text()='Go']", "Search"),
        ], task={"url": "https://stores.example.test/"}, parent="wrb_outer", loop_index=i,
            loop_value=region)
        inner = f"wrb_inner_{i}"
        for j, store in enumerate(["S1", "S2"]):
            run.block("read_store", "extraction", [
                act("click", f"//a[text()='{store}']", "Open the store", ),
                act("extract", None, "Read the opening hours"),
            ], task={"data_extraction_goal": "Opening hours",
                     "extracted_information_schema": {"type": "string"}},
                parent=inner, loop_index=j, loop_value=store)
        run.block("each_store", "for_loop", parent="wrb_outer", block_id=inner, loop_index=i,
                  loop_value=region)
    run.block("each_region", "for_loop", block_id="wrb_outer")
    run.write(HERE, "nested_loop")


def while_loop() -> None:
    run = Run("while", defn([{
        "label": "until_last_page", "block_type": "while_loop",
        "condition": "{{ has_next_page }}", "loop_blocks": [
            {"label": "read_page", "block_type": "extraction"},
            {"label": "next_page", "block_type": "navigation"},
            {"label": "archive_page", "block_type": "task"},
        ]}]))
    for i in range(3):
        run.block("read_page", "extraction", [act("extract", None, "Read the rows")],
                  task={"data_extraction_goal": "Rows"}, parent="wrb_while", loop_index=i)
        run.block("next_page", "navigation", [
            act("click", "//a[@rel='next']", "Next page"),
        ], task={}, parent="wrb_while", loop_index=i,
            status="completed" if i < 2 else "failed")
    run.block("until_last_page", "while_loop", block_id="wrb_while")
    run.write(HERE, "while_loop")


def conditional_one_branch() -> None:
    run = Run("cond", defn([
        {"label": "open_cart", "block_type": "navigation", "url": "https://shop.example.test"},
        {"label": "pick_plan", "block_type": "conditional", "branches": [
            {"condition": "{{ plan == 'basic' }}", "blocks": [
                {"label": "buy_basic", "block_type": "task"}]},
            {"condition": None, "blocks": [{"label": "buy_premium", "block_type": "task"}]},
        ]},
    ], [param("plan")]), {"plan": "basic"})
    run.block("open_cart", "navigation", [act("click", "//a[@id='cart']", "Open the cart")],
              task={"url": "https://shop.example.test"})
    run.block("pick_plan", "conditional")
    run.block("buy_basic", "task", [
        act("click", "//button[@data-plan='basic']", "Choose basic"),
    ], task={})
    run.write(HERE, "conditional_one_branch")


def task_v2_children() -> None:
    run = Run("v2", defn([{"label": "research", "block_type": "task_v2",
                           "prompt": "Find the cheapest flight", "url": "https://fly.test"}]))
    run.block("open search", "navigation", [
        act("input_text", "//input[@name='to']", "Type the destination", text="Lisbon"),
        act("click", "//button[@type='submit']", "Search"),
    ], task={"url": "https://fly.test"}, parent="wrb_v2")
    run.block("compare", "task_v2", parent="wrb_v2", block_id="wrb_v2_inner")
    run.block("sort", "action", [act("click", "//th[text()='Price']", "Sort by price")],
              task={}, parent="wrb_v2_inner")
    run.block("crunch", "code", parent="wrb_v2")
    run.block("read cheapest", "extraction", [act("extract", None, "Read the first row")],
              task={"data_extraction_goal": "Cheapest flight",
                    "extracted_information_schema": {"price": "number", "airline": "string"}},
              parent="wrb_v2")
    run.block("research", "task_v2", block_id="wrb_v2")
    run.write(HERE, "task_v2_children")


def mixed_live() -> None:
    run = Run("mixed", defn([
        {"label": "summarize", "block_type": "text_prompt", "prompt": "Summarize"},
        {"label": "class", "block_type": "task", "url": "https://school.test/classes"},
        {"label": "transform", "block_type": "code", "code": "x = 1"},
        {"label": "ünïcode", "block_type": "navigation"},
        {"label": "notify", "block_type": "send_email"},
        {"label": "pause", "block_type": "wait", "seconds": 5},
        {"label": "upload_report", "block_type": "task"},
        {"label": "ping", "block_type": "http_request"},
    ]))
    run.block("summarize", "text_prompt")
    run.block("class", "task", [
        act("null_action", None, "Think"),
        act("click", "//a[text()='Enroll']", "Enroll"),
        act("terminate", None, "Done"),
    ], task={"url": "https://school.test/classes"})
    run.block("transform", "code")
    run.block("ünïcode", "navigation", [act("click", "//a[@lang='fr']", "Français")],
              task={})
    run.block("notify", "send_email")
    run.block("pause", "wait")
    run.block("upload_report", "task", [act("click", "//input", "Upload")], task={},
              status="failed")
    run.write(HERE, "mixed_live")


# --- binding by value (ARCHITECTURE.md §9): one recording per kind ---------------------


def bind_parameters() -> None:
    """Values typed without parameter_key: whole, inside text, list items, object fields,
    numbers and booleans (short ones only where the definition mentions them), options,
    upload paths, visited urls and keys."""
    run = Run("bind_params", defn([
        {"label": "order_form", "block_type": "task", "url": "https://shop.example.test/new",
         "navigation_goal": "Order {{ quantity }} items, gift wrap {{ gift }}, key {{ key }}"},
    ], [param("customer"), param("order_ref"), param("tags"), param("address"),
        param("quantity"), param("gift"), param("country"), param("invoice"), param("key"),
        param("note")]),
        {"customer": "Grace Hopper", "order_ref": "ORD-4711", "tags": ["urgent", "fragile"],
         "address": {"city": "Arlington", "zip": "22201"}, "quantity": 3, "gift": True,
         "country": "US", "invoice": "/srv/invoices/ORD-4711.pdf", "key": "Tab",
         "note": "no"})
    run.block("order_form", "task", [
        act("goto_url", None, "Search the order ORD-4711",
            text="https://shop.example.test/search?q=ORD-4711&lang=en"),
        act("input_text", "//input[@name='customer']", "Type Grace Hopper",
            text="Grace Hopper"),
        act("input_text", "//input[@name='reference']", "Type the reference",
            text="Ref ORD-4711 for Grace Hopper"),
        act("input_text", "//input[@name='tag']", "Type the second tag", text="fragile"),
        act("input_text", "//input[@name='city']", "Type the city", text="Arlington"),
        act("input_text", "//input[@name='zip']", "Type the zip", text="22201"),
        act("input_text", "//input[@name='qty']", "Type the quantity", text="3"),
        act("select_option", "//select[@name='gift']", "Gift wrap?", option="true"),
        act("select_option", "//select[@name='country']", "Pick the country", option="US"),
        act("input_text", "//input[@name='remark']", "A short word nobody mentions",
            text="no"),
        act("upload_file", "//input[@type='file']", "Attach the invoice",
            text="/srv/invoices/ORD-4711.pdf"),
        act("keypress", "//input[@name='qty']", "Leave the field", text="Tab"),
        act("click", "//tr[td[text()='ORD-4711']]//button", "Open ORD-4711"),
    ], task={"url": "https://shop.example.test/new"})
    run.write(HERE, "bind_parameters")


def bind_loop_branch() -> None:
    """A loop over objects (fields of the current value) and a branch typing a parameter."""
    run = Run("bind_loop", defn([
        {"label": "each_item", "block_type": "for_loop", "loop_over": "items", "loop_blocks": [
            {"label": "add_item", "block_type": "action"}]},
        {"label": "ship", "block_type": "conditional", "branches": [
            {"condition": "{{ express }}", "blocks": [
                {"label": "express_form", "block_type": "task"}]},
            {"condition": None, "blocks": [{"label": "normal_form", "block_type": "task"}]},
        ]},
    ], [param("items"), param("express"), param("phone")]),
        {"items": [{"sku": "SKU-100", "count": 2}, {"sku": "SKU-200", "count": 5}],
         "express": True, "phone": "+1 555 0100"})
    for i, item in enumerate([{"sku": "SKU-100", "count": 2}, {"sku": "SKU-200", "count": 5}]):
        run.block("add_item", "action", [
            act("input_text", "//input[@name='sku']", "Type the SKU", text=item["sku"]),
            act("input_text", "//input[@name='count']", "Type the count",
                text=str(item["count"])),
            act("click", f"//button[@data-sku='{item['sku']}']", f"Add {item['sku']}"),
        ], task={}, parent="wrb_items", loop_index=i, loop_value=item)
    run.block("each_item", "for_loop", block_id="wrb_items")
    run.block("ship", "conditional")
    run.block("express_form", "task", [
        act("input_text", "//input[@name='phone']", "Type the phone", text="+1 555 0100"),
    ], task={})
    run.write(HERE, "bind_loop_branch")


def bind_outputs() -> None:
    """An extracted value typed by a later block binds to ctx.outputs[label]."""
    run = Run("bind_out", defn([
        {"label": "read_ticket", "block_type": "extraction",
         "url": "https://help.example.test/tickets/new"},
        {"label": "follow_up", "block_type": "task",
         "url": "https://help.example.test/follow-up",
         "navigation_goal": "Follow up on {{ read_ticket.output }}"},
    ]))
    run.block("read_ticket", "extraction", [act("extract", None, "Read the ticket")],
              task={"data_extraction_goal": "The new ticket's number and queue",
                    "extracted_information_schema": {"type": "object"}},
              output={"ticket": "T-99817", "queue": "billing", "priority": 2})
    run.block("follow_up", "task", [
        act("input_text", "//input[@name='ticket']", "Type the ticket", text="T-99817"),
        act("input_text", "//textarea", "Describe",
            text="Please move T-99817 out of billing"),
        act("select_option", "//select[@name='priority']", "Same priority", option="2"),
    ], task={"url": "https://help.example.test/follow-up"})
    run.write(HERE, "bind_outputs")


def bind_secrets() -> None:
    """A one-time code from a totp parameter and a credential, by key: ctx.totp, ctx.credential;
    ties between parameters with the same value."""
    run = Run("bind_secret", defn([
        {"label": "log_in", "block_type": "login", "url": "https://vault.example.test/login",
         "navigation_goal": "Sign in as {{ login_name }}"},
    ], [param("login_name"), param("email"), param("password", "credential"),
        param("otp", "totp")]),
        {"login_name": "ops@vault.test", "email": "ops@vault.test", "password": "pw-1",
         "otp": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"})
    run.block("log_in", "login", [
        act("input_text", "//input[@name='user']", "Type the user", text="ops@vault.test"),
        act("input_text", "//input[@name='password']", "Type the password", text="pw-1",
            parameter_key="password"),
        act("input_text", "//input[@name='code']", "Type the code", text="492039",
            parameter_key="otp"),
        act("click", "//button[@type='submit']", "Sign in"),
    ], task={"url": "https://vault.example.test/login"})
    run.write(HERE, "bind_secrets")


def bind_task_v2() -> None:
    """task_v2 children: recorded urls and typed values bind like any other."""
    run = Run("bind_v2", defn([{
        "label": "book", "block_type": "task_v2", "url": "https://fly.example.test",
        "prompt": "Book a flight to {{ city }} on {{ day }}"}],
        [param("city"), param("day")]), {"city": "Lisbon", "day": "2026-12-24"})
    run.block("search", "navigation", [
        act("input_text", "//input[@name='to']", "Type Lisbon", text="Lisbon"),
        act("input_text", "//input[@name='day']", "Type the day", text="2026-12-24"),
    ], task={"url": "https://fly.example.test/search?to=Lisbon&day=2026-12-24"},
        parent="wrb_book")
    run.block("book", "task_v2", block_id="wrb_book")
    run.write(HERE, "bind_task_v2")


if __name__ == "__main__":
    for make in (login_credentials, form_parameters, extraction_schema, nested_loop, while_loop,
                 conditional_one_branch, task_v2_children, mixed_live, bind_parameters,
                 bind_loop_branch, bind_outputs, bind_secrets, bind_task_v2):
        make()
