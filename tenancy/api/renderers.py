"""A client may ask for `application/problem+json` (the media type of every error answer)."""

from __future__ import annotations

from rest_framework.renderers import JSONRenderer

from .errors import PROBLEM_CONTENT_TYPE


class ProblemJSONRenderer(JSONRenderer):
    media_type = PROBLEM_CONTENT_TYPE
