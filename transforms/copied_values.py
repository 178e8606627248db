"""Which volatile values of an observation the prompt already shows, so a model can copy them rather than guess:
stage 3 asks for them exactly (transforms.stages) and the grounded trace does not count them as new
(transforms.reasoning.grounded)."""

from __future__ import annotations

from transforms.reasoning._linediff import new_spans

# Volatile kinds that name a thing (a process, a port, a commit or container, a temp file) rather than measure one.
# Such a value differs between runs but not within one: when the prompt shows it, a model can copy it, so stage 3
# asks for it exactly. A measurement (a clock, a duration, a size, a load reading) is read afresh every time: the
# state's top screen shows `0.0` %CPU and the next one may show 0.3, so those stay format spans whatever the prompt
# shows.
IDENTIFIER_KINDS = frozenset({"pid", "port", "hex_id", "uuid", "temp_path"})
# A shorter value (a 1-2 digit pid) coincides with any small number the prompt happens to show: it counts as shown
# only where its whole line does (new_spans's min_chars).
MIN_COPIED_CHARS = 3


def copied_spans(reference: str, spans: list[dict], shown: tuple[str, ...]) -> list[dict]:
    """The spans (of reference, each with its kind) whose value the prompt already states, so a model can copy it:
    of an identifier kind, and either at least MIN_COPIED_CHARS long and standing whole in one of the shown texts
    (no letter or digit right before or after it there: pid 4242 is not the 4242 of 142424), or shorter and on a
    line that one of the shown texts has too, both stripped, that is more than the value (the `[1] 44` of a
    background job still on screen; not a lone `44`). A value is its span without the spaces around it: a ps or top
    pid span holds the padding it is right-aligned with ("   4242"), whose width follows from the value's. The
    spans are returned as given."""
    values = []
    for span in spans:
        if span.get("kind") in IDENTIFIER_KINDS:
            text = reference[span["start"]:span["end"]]
            value = text.strip()
            if value:
                start = span["start"] + len(text) - len(text.lstrip())
                values.append({"start": start, "end": start + len(value), "span": span})
    unshown = values
    for text in shown:
        if unshown and text:
            unshown = new_spans(text, reference, unshown, MIN_COPIED_CHARS)
    unshown = set(map(id, unshown))
    return [value["span"] for value in values if id(value) not in unshown]
