"""CloudFormation (SAM): the template read into the resources the runtime creates."""
