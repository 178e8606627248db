pytest_plugins = ["tests.docker_fixtures", "tests.llama_server"]
