"""Request validation, driven by botocore's Kinesis model (STYLE.md: handlers never validate).

The pipeline (``shardflow.server.app``) runs, in order:

1. ``RequestSchema.parse`` (``parsing``): JSON types against the operation's input shape; a
   wrong type is a ``SerializationException``.
2. ``RequestSchema.validate`` (``constraints``): the model's constraints; violations are one
   ``ValidationException`` listing at most ten of them.
3. ``run_checks`` (``checks``): the operation's cross-field rules, right before its handler.

``compiler`` turns the model into the tables steps 1 and 2 walk; ``quirks`` holds what AWS
does that the model does not say (wording, orderings), each with where it was observed.
"""

from shardflow.api.validation.checks import CHECKS, run_checks
from shardflow.api.validation.quirks import MAX_LISTED_ERRORS
from shardflow.api.validation.schema import RequestSchema

__all__ = ["CHECKS", "MAX_LISTED_ERRORS", "RequestSchema", "run_checks"]
