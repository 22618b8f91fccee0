"""One module per Lambda function; each exposes lambda_handler."""
