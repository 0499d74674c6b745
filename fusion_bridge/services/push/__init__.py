"""Push mode: waking agents up (probe /status, call /now), pushing a task at its start, GLPI's wake-up counter."""
