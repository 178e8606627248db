pytest_plugins = ["tests.docker_fixtures"]
