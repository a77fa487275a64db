"""Add-on preferences: where the server is, its token, and where takes are written.

A render-farm node or any headless machine has no preferences UI: there each setting
comes from its environment variable (`ENVIRONMENT`), which wins over the saved preference.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import bpy

from .compat import BLEND_RELATIVE_PATH, addon_package

DEFAULT_SERVER_URL = "http://127.0.0.1:8765"
DEFAULT_OUTPUT = "//underpaint"  # next to the .blend file

# The environment variable of each preference; the token's is the one `underpaint serve` reads too.
ENVIRONMENT = {
    "server_url": "UNDERPAINT_SERVER",
    "token": "UNDERPAINT_TOKEN",
    "output_dir": "UNDERPAINT_OUTPUT",
    "backend_command": "UNDERPAINT_BACKEND",
}


def normalize_server_url(text: str) -> str:
    """Accept what people type ('host:port', 'http://host:port/', spaces) and return 'http://host:port'."""
    text = text.strip()
    if not text:
        return DEFAULT_SERVER_URL
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not a server address: {text!r} (expected host:port or http://host:port)")
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _normalize_on_edit(self: UNDERPAINT_AP_preferences, _context: bpy.types.Context) -> None:
    try:
        normalized = normalize_server_url(self.server_url)
    except ValueError:
        return  # left as typed; the connection check reports it
    if normalized != self.server_url:  # assigning re-triggers this update, so only when it changes
        self.server_url = normalized


class UNDERPAINT_AP_preferences(bpy.types.AddonPreferences):
    bl_idname = addon_package()

    server_url: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Server",
        description="Address of the Underpaint render server (host:port or http://host:port)",
        default=DEFAULT_SERVER_URL,
        update=_normalize_on_edit,
    )
    token: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Token",
        description="Access token, needed when the server is bound to anything but 127.0.0.1",
        default="",
        subtype="PASSWORD",
    )
    output_dir: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Output Folder",
        description="Where shot packages and painted takes are written ('//' = next to the .blend file)",
        default=DEFAULT_OUTPUT,
        subtype="DIR_PATH",
        options=BLEND_RELATIVE_PATH,
    )
    backend_command: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Backend Command",
        description="The `underpaint` executable of the backend's environment, used by 'Start local server'",
        default="underpaint",
        subtype="FILE_PATH",
    )

    def draw(self, _context: bpy.types.Context) -> None:
        layout = self.layout
        layout.prop(self, "server_url")
        layout.prop(self, "token")
        layout.prop(self, "output_dir")
        layout.prop(self, "backend_command")


def get(context: bpy.types.Context | None = None) -> UNDERPAINT_AP_preferences:
    """The add-on's preferences as saved (see `setting` for what is in effect)."""
    context = context or bpy.context
    return context.preferences.addons[addon_package()].preferences


def setting(name: str, context: bpy.types.Context | None = None) -> str:
    """The preference `name` in effect: its environment variable when set and not empty, else the saved value."""
    value = os.environ.get(ENVIRONMENT[name], "").strip()
    return value or str(getattr(get(context), name)).strip()


classes = (UNDERPAINT_AP_preferences,)
