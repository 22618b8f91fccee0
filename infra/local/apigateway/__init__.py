"""API Gateway (REST): the routes, integrations and mapping templates of infra/openapi.yaml."""
