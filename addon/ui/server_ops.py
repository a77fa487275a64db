"""Start Local Server: `underpaint serve` on this machine for the server address in the preferences."""

from __future__ import annotations

import bpy

from .. import preferences, server_process, server_status
from .job_ops import RUN_MODES, waits


class UNDERPAINT_OT_start_server(bpy.types.Operator):
    """Start `underpaint serve` on this machine for the server address in the preferences; it stops with Blender"""

    bl_idname = "underpaint.start_server"
    bl_label = "Start Local Server"

    run_mode: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Run", items=RUN_MODES, default="AUTO", options={"HIDDEN", "SKIP_SAVE"}
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            client = server_status.preferences_client(context)
            server_process.start(preferences.setting("backend_command", context), client.base_url, client.token)
            if waits(self.run_mode):
                server_process.wait_until_ready(client)
        except (server_process.StartError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        server_status.STATUS.recheck()
        self.report({"INFO"}, f"Starting the Underpaint server at {client.base_url}")
        return {"FINISHED"}


classes = (UNDERPAINT_OT_start_server,)
