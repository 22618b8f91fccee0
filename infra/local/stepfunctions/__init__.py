"""Step Functions: StartSyncExecution, retained executions, TestState, the template's machines."""
