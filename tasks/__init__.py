"""Tasks: one plug-in per module, each registered with ``@register_task``."""
