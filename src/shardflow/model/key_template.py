"""S3 object keys of channel deliveries: AWS's output key template, checked and rendered.

AWS's default template (Kinesis Data Streams developer guide, "S3 output key template")::

    kinesis-channel/!{channel-name}/!{channel-id}/!{yyyy}/!{MM}/!{dd}/!{HH}/
    !{channel-name}-!{channel-id}-!{yyyy}-!{MM}-!{dd}-!{HH}-!{mm}!{extension}

Times are UTC, taken from the oldest record in the object. AWS appends a unique suffix to every
key; here it is ``-<first>-<last>`` store positions of the object's records, placed before
``!{extension}`` when the template ends with it, so a redelivered object keeps its key.
"""

from __future__ import annotations

import re
import time

DEFAULT_TEMPLATE = (
    "kinesis-channel/!{channel-name}/!{channel-id}/!{yyyy}/!{MM}/!{dd}/!{HH}/"
    "!{channel-name}-!{channel-id}-!{yyyy}-!{MM}-!{dd}-!{HH}-!{mm}!{extension}"
)
VARIABLES = frozenset(
    {"channel-name", "channel-id", "stream-name", "yyyy", "YY", "MM", "dd", "HH", "mm", "extension"}
)
_VARIABLE_RE = re.compile(r"!\{([^}]*)\}")
EXTENSION = "!{extension}"


def problem(template: str) -> str | None:
    """Why a template cannot be used (a sentence), or None when it can."""
    if template.startswith("/") or ".." in template.split("/") or "./" in template:
        return "OutputKeyTemplate must not start with '/' or contain path traversal."
    if template.endswith("/"):
        return "OutputKeyTemplate must not end with '/'."
    if template.count("!{") != len(_VARIABLE_RE.findall(template)):
        return "OutputKeyTemplate has an unbalanced '!{'."
    unknown = sorted({v for v in _VARIABLE_RE.findall(template) if v not in VARIABLES})
    if unknown:
        return (
            f"OutputKeyTemplate uses unknown variable(s) {', '.join(unknown)}; supported:"
            f" {', '.join(sorted(VARIABLES))}."
        )
    return None


def render(
    template: str,
    *,
    channel_name: str,
    channel_id: str,
    stream_name: str,
    oldest_arrival_ms: int,
    extension: str,
    suffix: str,
) -> str:
    """The object key for one delivered object."""
    t = time.gmtime(oldest_arrival_ms / 1000)
    values = {
        "channel-name": channel_name,
        "channel-id": channel_id,
        "stream-name": stream_name,
        "yyyy": f"{t.tm_year:04d}",
        "YY": f"{t.tm_year % 100:02d}",
        "MM": f"{t.tm_mon:02d}",
        "dd": f"{t.tm_mday:02d}",
        "HH": f"{t.tm_hour:02d}",
        "mm": f"{t.tm_min:02d}",
    }
    if template.endswith(EXTENSION):
        template = template[: -len(EXTENSION)] + suffix + EXTENSION
    else:
        template = template + suffix
    values["extension"] = extension
    return _VARIABLE_RE.sub(lambda m: values[m.group(1)], template)
