"""`/docs`: Swagger UI from the app's own files (api/static/swagger-ui, swagger-ui-dist 5.35.0 from
the npm registry, Apache-2.0), so the API documentation works offline and behind firewalls."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

from core.errors import NotFound

SWAGGER_UI_VERSION = "5.35.0"
ASSETS_DIR = Path(__file__).parent / "static" / "swagger-ui"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
DOCS = "/docs"


def install_docs(app: FastAPI) -> None:
    """Call with FastAPI(docs_url=None, redoc_url=None): the default pages load from a CDN."""

    @app.get(DOCS, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "",
            title=f"{app.title} - API documentation",
            swagger_js_url=f"{DOCS}/static/swagger-ui-bundle.js?v={SWAGGER_UI_VERSION}",
            swagger_css_url=f"{DOCS}/static/swagger-ui.css?v={SWAGGER_UI_VERSION}",
            swagger_favicon_url=f"{DOCS}/static/favicon-32x32.png",
            oauth2_redirect_url=f"{DOCS}/oauth2-redirect",
        )

    @app.get(f"{DOCS}/oauth2-redirect", include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get(f"{DOCS}/static/{{name}}", include_in_schema=False)
    async def swagger_ui_asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise NotFound(f"no documentation asset named {name!r}")
        return FileResponse(
            ASSETS_DIR / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
        )
