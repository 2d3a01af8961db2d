"""The audit trail: who changed what, when, from where. Services record through `audit.recording.recorded`."""
