"""The stand-in for AWS behind `make run` and the tests: moto in-process, in packages named
after the AWS service each module stands in for.

    runtime.py          LocalAws: the template's resources on moto, started and stopped
    routing.py          every boto3 request's way while a runtime runs (botocore's before-send)
    patches.py          every change to moto, botocore and Powertools, applied while one runs
    recorder.py         what each execution did beyond its history, for the execution view
    aws_endpoint.py     the AWS APIs over HTTP for outside clients (port 4566)
    http_server.py      the API's HTTP server, with applications mounted beside it
    apigateway/         the REST API of infra/openapi.yaml: gateway, openapi, vtl
    awslambda/          functions (in-process), api (the Lambda API), event_source_mapping
    cloudformation/     template: the SAM template read into what the runtime creates
    dynamodb/           transactions, time_to_live, streams (what a stream keeps)
    events/             bus: EventBridge's buses, their taps and PutEvents
    stepfunctions/      executions (StartSyncExecution), interpreter, retention, teststate,
                        provision (Step Functions Local), diagram

The execution view (infra/console) is not imported here: infra/composition.py wires it in.
"""
