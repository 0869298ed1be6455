"""A deterministic chat model for browser-use's Agent: no network, no real LLM.

It implements browser-use's `BaseChatModel` protocol (browser_use/llm/base.py): `model`,
`provider`, `name`, and `ainvoke(messages, output_format)` returning a
`ChatInvokeCompletion` whose completion is the Agent's own structured `AgentOutput`. Its
answers are fixed per step (a `Plan`: what a model would decide from the task), but the
element indexes are looked up in the browser state browser-use serialised into the last
message (`[12]<input name=username ...`), so browser-use's real DOM serialisation, element
indexing, action execution and history do everything else. Asked without an output format
(browser-use's `extract` action asks its page-extraction model so), it answers with
`extract(text)` of the page content it was given.

browser_use (the `browser-use` extra) is imported when the model answers, not with this module.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the browser-use extra; imported when the model answers
    from browser_use.llm.messages import BaseMessage
    from browser_use.llm.views import ChatInvokeCompletion

# One interactive element of browser-use's serialised state: `[12]<input name=q ... />`,
# maybe marked new (`*[12]`), its text on the lines up to the next element.
_DEBUG = bool(__import__("os").environ.get("SCRIPTED_MODEL_DEBUG"))
_ELEMENT = re.compile(r"\*?\[(\d+)\]<(\w+)([^>]*?)/?>")


@dataclass(frozen=True)
class Found:
    index: int
    tag: str
    attributes: str  # the serialised attributes, as browser-use wrote them
    text: str  # the element's text as it follows it


def elements(state: str) -> list[Found]:
    """The interactive elements of a serialised browser state, in order."""
    marks = list(_ELEMENT.finditer(state))
    ends = [m.start() for m in marks[1:]] + [len(state)]
    return [
        Found(
            int(m.group(1)), m.group(2).lower(), m.group(3), " ".join(state[m.end() : end].split())
        )
        for m, end in zip(marks, ends, strict=True)
    ]


def index_of(state: str, tag: str, *, attribute: str | None = None, text: str | None = None) -> int:
    """The index of the one element of `tag` whose attributes contain `attribute` (e.g.
    `name=username`) and/or whose text contains `text`; fails when there is not exactly one."""
    hits = [
        e.index
        for e in elements(state)
        if e.tag == tag
        and (attribute is None or attribute in e.attributes)
        and (text is None or text.lower() in (e.text + " " + e.attributes).lower())
    ]
    if len(hits) != 1:
        shown = "\n".join(
            f"[{e.index}]<{e.tag}{e.attributes}> {e.text[:60]}" for e in elements(state)
        )
        raise LookupError(f"{len(hits)} <{tag}> with {attribute!r} {text!r} in:\n{shown}")
    return hits[0]


@dataclass(frozen=True)
class Step:
    """One model answer: its goal and the actions, computed from the browser state text."""

    goal: str
    actions: Callable[[str], list[dict[str, Any]]]
    memory: str = ""


@dataclass
class ScriptedChatModel:
    """browser-use's BaseChatModel with fixed answers (see the module's docstring)."""

    steps: Sequence[Step]
    extract: Callable[[str], str] | None = None
    model: str = "scripted-model"
    _verified_api_keys: bool = True
    asked: list[str] = field(default_factory=list)  # the goal of every answer, in order

    @property
    def provider(self) -> str:
        return "scripted"

    @property
    def name(self) -> str:
        return self.model

    @property
    def model_name(self) -> str:
        return self.model

    async def ainvoke(
        self, messages: list[BaseMessage], output_format: Any = None, **kwargs: Any
    ) -> ChatInvokeCompletion[Any]:
        from browser_use.llm.views import ChatInvokeCompletion

        text = messages[-1].text if messages else ""
        if output_format is None:
            if self.extract is None:
                raise AssertionError("the scripted model was asked to extract without an extractor")
            self.asked.append("extract")
            return ChatInvokeCompletion(completion=self.extract(text), usage=None)
        n = len([a for a in self.asked if a != "extract"])
        if n >= len(self.steps):
            raise AssertionError(f"the scripted model has no step {n + 1} (asked: {self.asked})")
        if _DEBUG:
            print(text)
        step = self.steps[n]
        self.asked.append(step.goal)
        answer = output_format.model_validate(
            {
                "evaluation_previous_goal": "Success" if n else "Starting",
                "memory": step.memory or step.goal,
                "next_goal": step.goal,
                "action": step.actions(text),
            }
        )
        return ChatInvokeCompletion(completion=answer, usage=None)
