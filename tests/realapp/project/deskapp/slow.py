"""A loaded server: form posts are answered late when the file DESKAPP_SLOW_FILE holds a
number of seconds (empty or absent: at once). Read on every post, so a test switches it."""

import os
import time


def _delay():
    try:
        with open(os.environ.get("DESKAPP_SLOW_FILE", ""), encoding="utf-8") as f:
            return float(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0.0


class SlowPosts:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST":
            time.sleep(_delay())
        return self.get_response(request)
