"""Base image helpers: the mirror comes from this machine's apt sources; an existing tag is not rebuilt."""

from __future__ import annotations

from sandboxes.images import DEFAULT_MIRROR, apt_mirror, build_base_image, image_exists


def test_mirror_from_deb822_sources_skips_security(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.debian.org/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n")
    assert apt_mirror(str(tmp_path)) == "http://mirror.example/debian"


def test_mirror_from_one_line_sources_and_default(tmp_path):
    assert apt_mirror(str(tmp_path)) == DEFAULT_MIRROR
    (tmp_path / "sources.list").write_text("# comment\ndeb [arch=amd64] http://ftp.example/debian bookworm main\n")
    assert apt_mirror(str(tmp_path)) == "http://ftp.example/debian"


def test_existing_image_is_reused(base_image, docker_client):
    assert image_exists(base_image, docker_client)
    assert not image_exists("worldline/never-built:x", docker_client)
    assert build_base_image(base_image, client=docker_client) == docker_client.images.get(base_image).id
    script = "for tool in tmux git python3 bash; do command -v $tool; done"
    tools = docker_client.containers.run(base_image, ["sh", "-c", script], remove=True, network_mode="none")
    assert tools.decode().split() == ["/usr/bin/tmux", "/usr/bin/git", "/usr/bin/python3", "/usr/bin/bash"]
