"""``beatsync-server``: run the sync gateway (placeholder until the gateway lands)."""

from __future__ import annotations

import click
from aiohttp import web


def create_app() -> web.Application:
    async def root(request: web.Request) -> web.Response:
        return web.json_response({"couchdb": "Welcome", "vendor": {"name": "BeatSync"}})

    app = web.Application()
    app.router.add_get("/", root)
    return app


@click.group(invoke_without_command=True)
@click.pass_context
def main(ctx: click.Context) -> None:
    """BeatSync sync gateway."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(serve)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5984, show_default=True)
def serve(host: str, port: int) -> None:
    """Run the gateway on its embedded default store."""
    web.run_app(create_app(), host=host, port=port)
