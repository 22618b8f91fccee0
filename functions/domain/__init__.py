"""Pure wallet logic: no boto3, no Powertools, no environment."""
