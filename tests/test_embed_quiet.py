"""Issue 20, item 7: encoding through OpenVINO no longer prints transformers'
"`loss_type=None` was set in the config but it is unrecognized" notice."""

from __future__ import annotations

import logging

import pytest

from paperatlas.embed.sbert import _LossNotice, _quiet_loss_notice


def test_the_loss_notice_is_filtered_and_nothing_else(caplog: pytest.LogCaptureFixture) -> None:
    _quiet_loss_notice()
    _quiet_loss_notice()  # once per process
    log = logging.getLogger("transformers.modeling_utils")
    assert sum(isinstance(f, _LossNotice) for f in log.filters) == 1
    with caplog.at_level(logging.WARNING, logger="transformers.modeling_utils"):
        log.warning("`loss_type=None` was set in the config but it is unrecognized.")
        log.warning("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]
