"""EventBridge: the template's buses, with a tap each, and PutEvents."""
