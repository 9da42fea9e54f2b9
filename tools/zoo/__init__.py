"""The repository tool of the model zoo: discovery, copy checks, scaffolding and repository checks."""
