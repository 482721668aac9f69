"""Late values: `run.*` and `secrets.*` in templates, known only when a step is sent.

The plan is rendered once, with a marker for each; in a template a late value (and a var or text
made of one) is a `Late`, which can be printed and joined with `~` but not tested, compared,
iterated, indexed or filtered, so no template can behave differently once the values exist.
"""

from __future__ import annotations

from typing import Any, NoReturn

from jinja2.exceptions import SecurityError

from ..words import EN
from .model import (
    LATE_MARKER,
    late_marker,
    late_name,
)


class LateValueError(SecurityError):
    """A late value was tested, compared, iterated or filtered: it may only be printed."""

    def __init__(self, late: Late) -> None:
        super().__init__(EN("input.render.late", value=late.what))


class Late:
    """A value that exists only when a step is sent, as a template sees it: its marker text.

    `str()` (printing, `~`) gives the text with its markers; every other use raises
    LateValueError, so the marker's text can never steer the rendering.
    """

    __slots__ = ("text", "what")

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise LateValueError(self)

    __bool__ = __len__ = __iter__ = __reversed__ = __contains__ = __getitem__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = __hash__ = __call__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __mod__ = __rmod__ = _refuse
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __pow__ = __rpow__ = _refuse
    __neg__ = __pos__ = __abs__ = __int__ = __float__ = __index__ = __round__ = _refuse


def late(name: str) -> Late:
    """The late value `name` (`run.id`, `secrets.token`) as templates see it."""
    return Late(late_marker(name), name)


def late_names(text: str) -> list[str]:
    """The late values a rendered text holds, in order, once each."""
    return list(dict.fromkeys(late_name(m.group(1)) for m in LATE_MARKER.finditer(text)))


def as_late(text: str, what: str | None = None) -> str | Late:
    """Text holding a late value is late itself (printing it is all a template may do)."""
    names = late_names(text)
    if not names:
        return text
    holds = ", ".join(names)
    return Late(text, EN("input.render.late-holds", what=what, names=holds) if what else holds)
