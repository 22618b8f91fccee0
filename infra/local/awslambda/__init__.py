"""Lambda: the functions run in-process, the Lambda API over HTTP, and the event source mapping."""
