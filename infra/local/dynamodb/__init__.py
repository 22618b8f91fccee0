"""DynamoDB: transactions without copying tables, time to live, and what its streams keep."""
