"""The palette's "Save screenshot" works on a machine without a Downloads folder (a server reached over SSH)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from supportdesk.tui import app as app_module


async def saved(folder: Path, pilot) -> list[Path]:
    for _ in range(100):
        await pilot.pause()
        found = sorted(folder.glob("*.svg"))
        if found:
            return found
        await asyncio.sleep(0.05)
    return []


@pytest.mark.parametrize("has_downloads", [False, True])
async def test_screenshot_goes_to_downloads_or_the_data_folder(make_app, tmp_path, monkeypatch, has_downloads) -> None:
    downloads, data = tmp_path / "Downloads", tmp_path / "data"
    if has_downloads:
        downloads.mkdir()
    monkeypatch.setattr(app_module, "user_downloads_dir", lambda: str(downloads))
    monkeypatch.setattr(app_module, "user_data_dir", lambda *a, **k: str(data))
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.deliver_screenshot()  # what the palette's "Save screenshot" calls
        where = downloads if has_downloads else data / "screenshots"
        files = await saved(where, pilot)
        assert len(files) == 1 and files[0].read_text().lstrip().startswith("<svg")
        for _ in range(50):
            if any("Saved screenshot" in n.message for n in app._notifications):
                break
            await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any("Saved screenshot" in m for m in messages), messages
        assert not any("Failed" in m for m in messages)
    assert not (data / "screenshots").exists() or not has_downloads


async def test_a_folder_that_cannot_be_made_is_said(make_app, tmp_path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        app.action_screenshot(path=str(blocker / "inside"))  # the action goes the same way
        await pilot.pause()
        messages = [n.message for n in app._notifications]
        assert any(m.startswith(f"Cannot save a screenshot in {blocker / 'inside'}") for m in messages), messages
