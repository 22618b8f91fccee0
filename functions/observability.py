"""The Powertools logger and metrics shared by every handler.

No tracer: Lambda's own active tracing (the template's `Tracing: Active`) records each
invocation and its cold start with no SDK in the function (docs/tracing.md says why).
"""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
