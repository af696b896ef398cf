"""A stand-in for AWS's Parameters and Secrets Lambda Extension, backed by the stack's moto.

The real extension is a layer (``...:layer:AWS-Parameters-and-Secrets-Lambda-Extension...``)
whose process serves ``GET /secretsmanager/get?secretId=<id>[&versionStage=|&versionId=]`` on
``localhost:$PARAMETERS_SECRETS_EXTENSION_HTTP_PORT``, answers GetSecretValue's JSON, and
refuses requests whose ``X-Aws-Parameters-Secrets-Token`` header is not the execution
environment's ``AWS_SESSION_TOKEN`` (AWS Lambda Developer Guide, "Use Secrets Manager secrets in
Lambda functions"). The offline stack serves one such endpoint for all workers of functions
that attach that layer, with a per-stack random session token. It does not cache: the product
caches, and a local read always sees moto's current value.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
from typing import Any

from botocore.exceptions import ClientError
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"


class _QuietHandler(WSGIRequestHandler):
    disable_nagle_algorithm = True

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Silenced: the query string names secrets."""


class SecretsExtension:
    """The endpoint, on a free loopback port; ``token`` is the workers' session token."""

    def __init__(self, secretsmanager: Any, token: str, host: str = "127.0.0.1") -> None:
        self._client = secretsmanager
        self.token = token
        self._server = make_server(host, 0, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.port: int = self._server.port
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="secrets-extension", daemon=True
        )

    def start(self) -> SecretsExtension:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.answer(Request(environ))(environ, start_response)

    def answer(self, request: Request) -> Response:
        token = request.headers.get(TOKEN_HEADER)
        if not token:
            return _json(401, {"message": f"missing {TOKEN_HEADER} header"})
        if not hmac.compare_digest(token.encode(), self.token.encode()):
            return _json(403, {"message": f"{TOKEN_HEADER} is not this environment's session token"})
        if request.path != "/secretsmanager/get" or not request.args.get("secretId"):
            return _json(400, {"message": "expected GET /secretsmanager/get?secretId=..."})
        options = {
            name: request.args[key]
            for key, name in (("versionStage", "VersionStage"), ("versionId", "VersionId"))
            if key in request.args
        }
        try:
            value = self._client.get_secret_value(SecretId=request.args["secretId"], **options)
        except ClientError as error:
            # Secrets Manager answers every client error with 400 (moto says 404 to some)
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400))
            status = 400 if 400 <= status < 500 else status
            code = error.response.get("Error", {})
            return _json(status, {"__type": code.get("Code"), "message": code.get("Message")})
        value.pop("ResponseMetadata", None)
        value["CreatedDate"] = value["CreatedDate"].timestamp()
        if "SecretBinary" in value:
            value["SecretBinary"] = base64.b64encode(value["SecretBinary"]).decode()
        return _json(200, value)


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status, [("content-type", "application/json")])
