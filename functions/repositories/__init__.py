"""DynamoDB access, one module per table; the only code that imports boto3."""
