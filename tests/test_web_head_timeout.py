"""web/head_timeout.py reads uvicorn internals: it is vouched for on one uvicorn minor version only.

    .venv/bin/python -m pytest tests/test_web_head_timeout.py

The head deadline itself (408 for a half-sent head, idle connections closed) is checked by
tests/test_web_bad_requests.py on a real server; this test makes a uvicorn upgrade stop here until
those tests have been rerun on it and web/head_timeout.py's UVICORN_CHECKED moved (why: its docstring).
"""

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from web.head_timeout import UVICORN_CHECKED, with_head_timeout


def test_uvicorn_is_the_minor_version_the_head_deadline_was_checked_on():
    minor = ".".join(uvicorn.__version__.split(".")[:2])
    assert minor == UVICORN_CHECKED, (
        f"uvicorn {uvicorn.__version__}: web/head_timeout.py reads H11Protocol's internals and was checked on "
        f"{UVICORN_CHECKED}.x; run the test_web_* tests (-m 'slow or not slow') on this version, "
        "then move UVICORN_CHECKED"
    )


def test_the_protocol_still_has_what_the_deadline_hooks_into():
    protocol = with_head_timeout(3.0)
    assert issubclass(protocol, H11Protocol) and protocol.head_timeout_s == 3.0
    for hook in ("connection_made", "handle_events", "on_response_complete", "connection_lost"):
        assert hook in vars(H11Protocol), hook
