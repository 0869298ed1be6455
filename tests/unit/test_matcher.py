"""The matcher (worker/runtime/matcher.py): which candidate a moved element is, or none.

Records and candidates are in the shape DESCRIBE_JS and CANDIDATES_JS give them. The rule
before issue 27 took the one candidate of the recorded tag and text; these tables hold the
new rule to the cases that rule got wrong (a decoy with the recorded text, the previous
step's button, texts cut to 80 characters) and to those it could not find (a field whose
text changed, a tag that changed)."""

from __future__ import annotations

from typing import Any

import pytest

from worker.runtime.matcher import (
    MARGIN,
    THRESHOLD,
    form_similarity,
    match,
    score,
    text_similarity,
)

LOGIN_FORM = {
    "action": "/admin/login/",
    "fields": ["csrfmiddlewaretoken", "next", "password", "username"],
}


def el(tag: str, text: str | None, xpath: str = "", **attributes: Any) -> dict[str, Any]:
    return {"tag": tag, "text": text, **attributes, **({"xpath": xpath} if xpath else {})}


USERNAME = el(
    "input",
    "Username:",
    id="id_username",
    name="username",
    type="text",
    label="Username:",
    form=LOGIN_FORM,
    landmark="form#login-form",
    index=1,
)
REFUND = el(
    "a",
    "Request refund",
    href="/orders/7/refund",
    landmark="main#content",
    near=["Order 7"],
    index=3,
)
LOGIN_PAGE = [
    {
        **USERNAME,
        "text": "Username",
        "label": "Username",
        "landmarks": ["main", "form#login-form"],
        "xpath": "/html/body/div/main/form/div[1]/input",
    },
    el(
        "input",
        "Password",
        "/html/body/div/main/form/div[2]/input",
        id="id_password",
        name="password",
        type="password",
        label="Password",
        form=LOGIN_FORM,
        landmarks=["main", "form#login-form"],
        index=2,
    ),
    el(
        "input",
        "Log in",
        "/html/body/div/main/form/div[3]/input",
        type="submit",
        value="Log in",
        form=LOGIN_FORM,
        landmarks=["main", "form#login-form"],
        index=3,
    ),
]


@pytest.mark.parametrize(
    ("name", "record", "candidates", "found"),
    [
        (
            "a field whose label lost its colon is found by name, id and form",
            USERNAME,
            LOGIN_PAGE,
            "/html/body/div/main/form/div[1]/input",
        ),
        (
            "a renamed link is found by its address, not the comment's link with its old text",
            REFUND,
            [
                el(
                    "a",
                    "Ask for a refund",
                    "/m/p/a",
                    href="/orders/7/refund",
                    landmarks=["main#content"],
                    near=["Order 7"],
                    index=3,
                ),
                el(
                    "a",
                    "Request refund",
                    "/m/section/a",
                    href="https://evil.test/r",
                    landmarks=["main#content"],
                    near=["bob wrote"],
                    index=5,
                ),
            ],
            "/m/p/a",
        ),
        (
            "the comment's link alone is not the renamed one",
            REFUND,
            [
                el(
                    "a",
                    "Request refund",
                    "/m/section/a",
                    href="https://evil.test/r",
                    landmarks=["main#content"],
                    near=["bob wrote"],
                    index=5,
                )
            ],
            None,
        ),
        (
            "two copies that agree as much are not told apart",
            el("button", "Delete", index=0, near=["Orders"]),
            [
                el("button", "Delete", "/b[1]", index=0, near=["Orders"]),
                el("button", "Delete", "/b[2]", index=0, near=["Orders"]),
            ],
            None,
        ),
        (
            "a record of tag and text alone is never relocated",
            el("button", "Go"),
            [el("button", "Go", "/html/body/div/button", index=0)],
            None,
        ),
        (
            "an input submit that became a button is found by its name and form",
            el(
                "input",
                "Save",
                type="submit",
                name="_save",
                value="Save",
                form={"action": "/o/1/", "fields": ["_save", "note"]},
                landmark="form#order_form",
                index=3,
            ),
            [
                el(
                    "button",
                    "Save",
                    "/f/button[1]",
                    type="submit",
                    name="_save",
                    value="Save",
                    form={"action": "/o/1/", "fields": ["_save", "note"]},
                    landmarks=["form#order_form"],
                    index=0,
                ),
                el(
                    "button",
                    "Save and add another",
                    "/f/button[2]",
                    type="submit",
                    name="_addanother",
                    value="Save and add another",
                    form={"action": "/o/1/", "fields": ["_save", "note"]},
                    landmarks=["form#order_form"],
                    index=1,
                ),
            ],
            "/f/button[1]",
        ),
        (
            "a textarea that became a rich-text editor is found by its label and form",
            el(
                "textarea",
                "Message",
                name="message",
                label="Message",
                form={"action": "/t/", "fields": ["message", "subject"]},
                landmark="form#ticket",
                near=["New ticket"],
                index=0,
            ),
            [
                el(
                    "div",
                    "Message",
                    "/f/div[2]",
                    role="textbox",
                    aria_label="Message",
                    editable=True,
                    form={"action": "/t/", "fields": ["message", "subject"]},
                    landmarks=["form#ticket"],
                    near=["New ticket"],
                    index=0,
                ),
                el(
                    "input",
                    "Subject",
                    "/f/input",
                    name="subject",
                    label="Subject",
                    form={"action": "/t/", "fields": ["message", "subject"]},
                    landmarks=["form#ticket"],
                    near=["New ticket"],
                    index=0,
                ),
            ],
            None,  # text, form and landmark are not enough without the name: handed over
        ),
    ],
)
def test_the_matcher_finds_the_moved_element_or_nothing(
    name: str, record: dict[str, Any], candidates: list[dict[str, Any]], found: str | None
) -> None:
    assert match(record, candidates).xpath == found, name


def test_a_second_form_with_the_same_button_is_out_of_scope() -> None:
    save = el(
        "button",
        "Save",
        type="submit",
        form={"action": "/profile/", "fields": ["email", "name"]},
        landmark="form#profile",
        index=0,
    )
    page = [
        el(
            "button",
            "Save",
            "/f[1]/button",
            type="submit",
            form={"action": "/newsletter/", "fields": ["email"]},
            landmarks=["form#newsletter"],
            index=0,
        ),
        el(
            "button",
            "Save",
            "/f[2]/button",
            type="submit",
            form={"action": "/profile/", "fields": ["email", "name"]},
            landmarks=["form#profile"],
            index=0,
        ),
    ]

    assert match(save, page).xpath == "/f[2]/button"
    assert match(save, page[:1]).xpath is None  # the profile form is gone: not the other one


def test_the_previous_actions_element_never_counts_unless_the_recording_reused_it() -> None:
    step2 = el(
        "button", "Next", type="button", landmark="form#wizard", near=["Step 2: Address"], index=0
    )
    only_step1 = [
        el(
            "button",
            "Next",
            "/form/div[1]/button",
            type="button",
            landmarks=["form#wizard"],
            near=["Step 1: Name"],
            index=0,
            previous=True,
        )
    ]

    assert match(step2, only_step1).xpath is None
    assert match(step2, only_step1).reason == "no candidate in the recorded landmark and form"
    # allowed, it is still judged: none of the texts beside it is step 2's
    assert match(step2, only_step1, previous_allowed=True).xpath is None
    step1 = {**only_step1[0], "landmark": "form#wizard"}
    assert match(step1, only_step1, previous_allowed=True).xpath == "/form/div[1]/button"


def test_a_row_is_told_from_another_row_by_its_name() -> None:
    ada = el("input", "rowid", name="rowid", type="checkbox", row="Ada Lovelace", index=0)
    grace = {**ada, "row": "Grace Hopper", "index": 1, "xpath": "/table/tr[2]/td/input"}

    assert match(ada, [grace]).xpath is None  # the row of Ada is gone: not Grace's
    assert match(ada, [grace, {**ada, "xpath": "/table/tr[1]/td/input"}]).xpath == (
        "/table/tr[1]/td/input"
    )


def test_texts_are_compared_whole_not_cut_to_80_characters() -> None:
    long = "Accept the terms of the refund policy for orders placed before the first of March"
    assert len(long) > 80
    assert text_similarity(long, long + " and after") < 1.0
    assert text_similarity(long, long) == 1.0


def test_the_score_is_the_weighted_share_of_what_the_record_has() -> None:
    assert score(USERNAME, USERNAME) == 1.0
    assert score(USERNAME, {"tag": "div"}) == 0.0
    assert score(USERNAME, LOGIN_PAGE[1]) == 0.0  # another id and name count against it
    assert 0.0 < score(USERNAME, {**LOGIN_PAGE[1], "id": None, "name": None}) < THRESHOLD
    assert MARGIN > 0


def test_a_refusal_names_the_best_candidates_with_their_scores() -> None:
    refused = match(
        REFUND,
        [
            el(
                "a",
                "Request refund",
                "/m/section/a",
                href="https://evil.test/r",
                landmarks=["main#content"],
                index=5,
            )
        ],
    )

    assert refused.xpath is None
    assert refused.describe() == (
        "no candidate scores 0.6 or more (best candidates: "
        "<a 'Request refund'> 0.00 at /m/section/a)"
    )


def test_a_recorded_form_address_without_a_query_matches_by_path() -> None:
    recorded = {"action": "/admin/order/3/change/", "fields": ["status", "_save"]}
    found = {
        "action": "/admin/order/3/change/?_changelist_filters=q%3DSO-1006",
        "fields": ["status", "_save"],
    }
    other = {"action": "/admin/order/4/change/", "fields": ["status", "_save"]}
    assert form_similarity(recorded, found) == 1.0
    assert form_similarity(recorded, other) == 0.5
    with_query = {"action": "/a/?q=1", "fields": []}
    assert form_similarity(with_query, {"action": "/a/?q=2", "fields": []}) == 0.5
