"""A labelled table of realistic events across the platforms the Sentry SDKs cover (issue 19): for each,
the rule that fires, the category, and words its advice must or must not contain — a browser TypeError
never mentions a 500 or type hints, a background job is not told to answer 400, each language gets its
own idioms, the crash frame's locals and the in-app `file:line` are named.

Every payload goes the way a stored event goes to the analyser: scrubbed, normalized and serialised by
`prepare_event` (as ingest does), read back by `analysis_input_for` (as the worker does), then analysed
by the heuristic provider. Payloads are the recorded SDK events of tests/corpus/ or built in the shape
each SDK sends (sdk_payloads.py).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from app.analysis.providers.base import AnalysisInput, AnalysisResult
from app.analysis.providers.heuristic import HeuristicProvider, match_rule
from app.analysis.service import analysis_input_for
from app.events.normalize import normalize_sentry_event
from app.events.prepare import prepare_event
from tests.unit.analysis.sdk_payloads import (
    ASPNET,
    CELERY,
    EXPRESS,
    FLASK,
    LARAVEL,
    NET_HTTP,
    RAILS,
    SAFARI,
    SPRING,
    browser_frame,
    corpus,
    dotnet_frame,
    event,
    exception,
    get,
    go_frame,
    java_frame,
    logentry,
    node_frame,
    php_frame,
    py_frame,
    ruby_frame,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PLATFORMS = ("browser", "node", "python", "java", "go", "ruby", "php", "dotnet")
# Words of server advice that never fit a page.
SERVER_WORDS = ("500", "404", "400/422", "type hints", "Optional")


@dataclass(frozen=True)
class Row:
    platform: str
    name: str
    payload: dict[str, Any]
    rule: str | None  # None: no rule fires, the analysis says it does not recognise the error
    category: str
    has: tuple[str, ...] = ()
    hasnt: tuple[str, ...] = ()


def _with(payload: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**payload, **fields}


def _bundle(function: str, lineno: int, colno: int) -> list[dict[str, Any]]:
    return [
        browser_frame("vendor-8c1d2e.js", "HTMLButtonElement.dispatch", 2, 40211),
        browser_frame("index-4f2a9c.js", function, lineno, colno),
    ]


TABLE: list[Row] = [
    # ---- browser JavaScript (sentry.javascript.browser / react) -------------------------------------
    Row(
        "browser",
        "typeerror-undefined-map",
        event(
            "react",
            exception(
                "TypeError",
                "Cannot read properties of undefined (reading 'map')",
                _bundle("CartItems", 1, 48213),
                mechanism="onerror",
            ),
        ),
        "null-reference",
        "null_reference",
        has=("loading or empty state", "DOM element", "optional chaining", "index-4f2a9c.js:1"),
        hasnt=SERVER_WORDS,
    ),
    Row(
        "browser",
        "typeerror-not-a-function",
        event(
            "browser",
            exception(
                "TypeError",
                "items.map is not a function",
                _bundle("renderCart", 1, 9913),
                mechanism="onerror",
            ),
        ),
        "type-error",
        "type_error",
        has=("shape of data or the DOM", "API response", "schema check"),
        hasnt=(*SERVER_WORDS, "env vars", "mypy"),
    ),
    Row(
        "browser",
        "safari-null-is-not-an-object",
        event(
            "browser",
            exception(
                "TypeError",
                "null is not an object (evaluating 'document.getElementById(\"cart\").addEventListener')",
                _bundle("initCart", 1, 2301),
                mechanism="onerror",
            ),
            request={"url": "https://shop.example/cart", "headers": {"User-Agent": SAFARI}},
        ),
        "null-reference",
        "null_reference",
        has=("DOM element",),
        hasnt=SERVER_WORDS,
    ),
    Row(
        "browser",
        "failed-to-fetch",
        event(
            "browser",
            exception(
                "TypeError",
                "Failed to fetch",
                _bundle("loadCart", 1, 5120),
                mechanism="auto.browser.global_handlers.onunhandledrejection",
            ),
        ),
        "browser-fetch-failed",
        "browser_network",
        has=("CORS", "offline", "retry"),
        hasnt=SERVER_WORDS,
    ),
    Row(
        "browser",
        "chunk-load",
        event(
            "react",
            exception(
                "ChunkLoadError",
                "Loading chunk 482 failed.\n(error: https://shop.example/assets/482.3e1f.js)",
                _bundle("__webpack_require__.f.j", 1, 6001),
            ),
        ),
        "chunk-load-failed",
        "deployment",
        has=("deploy", "reload the page"),
        hasnt=SERVER_WORDS,
    ),
    Row(
        "browser",
        "script-error",
        event("browser", exception("Error", "Script error.", [], mechanism="onerror")),
        "cross-origin-script",
        "cross_origin_script",
        has=("crossorigin",),
        hasnt=SERVER_WORDS,
    ),
    Row(
        "browser",
        "html-instead-of-json",
        event(
            "react",
            exception(
                "SyntaxError",
                "Unexpected token '<', \"<!DOCTYPE \"... is not valid JSON",
                _bundle("fetchCart", 1, 7710),
            ),
        ),
        "bad-json",
        "bad_json",
        has=("HTML", "response.ok"),
        hasnt=SERVER_WORDS,
    ),
    Row(
        "browser",
        "axios-503",
        event(
            "browser",
            exception("AxiosError", "Request failed with status code 503", _bundle("submitOrder", 1, 3102)),
        ),
        "upstream-5xx",
        "upstream_error",
        has=("error state with a retry",),
        hasnt=("instead of a 500", "502/503 (or"),
    ),
    Row(
        "browser",
        "maximum-call-stack",
        event(
            "browser", exception("RangeError", "Maximum call stack size exceeded", _bundle("flatten", 1, 88))
        ),
        "recursion",
        "recursion",
        has=("base case",),
        hasnt=SERVER_WORDS,
    ),
    # ---- Node.js (sentry.javascript.node) -----------------------------------------------------------
    Row(
        "node",
        "corpus-typeerror-load-user",
        corpus("node_a_typeerror_load_user"),
        "null-reference",
        "null_reference",
        has=("shop.js:4", "optional chaining", "skip or report the missing record"),
        hasnt=("Optional` type hints", "instead of a 500"),
    ),
    Row(
        "node",
        "corpus-json-parse-config",
        corpus("node_a_syntaxerror_config"),
        "bad-json",
        "bad_json",
        has=("shop.js:23", "poison message"),
        hasnt=("answer 400",),
    ),
    Row(
        "node",
        "corpus-chained-range-error",
        corpus("node_a_checkout_chained"),
        "validation",
        "validation",
        has=("quantity out of range",),
        hasnt=("400/422",),
    ),
    Row(
        "node",
        "express-null-in-request",
        event(
            "node",
            exception(
                "TypeError",
                "Cannot read properties of null (reading 'id')",
                [
                    EXPRESS,
                    node_frame(
                        "src/routes/orders.js",
                        "getOrder",
                        31,
                        "  const owner = order.customer.id;",
                        vars={"order": {"customer": None, "id": 42}, "req": "[Object]"},
                    ),
                ],
                mechanism="auto.middleware.express",
            ),
            request=get("https://api.shop.example/orders/42"),
        ),
        "null-reference",
        "null_reference",
        has=("404 or validation error", "strict null checks", "orders.js:31"),
        hasnt=("Optional` type hints", "loading or empty state"),
    ),
    Row(
        "node",
        "pg-econnrefused",
        event(
            "node",
            exception(
                "Error",
                "connect ECONNREFUSED 10.0.4.12:5432",
                [node_frame("node_modules/pg-pool/index.js", "Client.<anonymous>", 45, in_app=False)],
            ),
            request=get("https://api.shop.example/orders"),
        ),
        "db-connect-refused",
        "database_connection",
        has=("10.0.4.12:5432",),
    ),
    Row(
        "node",
        "enotfound",
        event(
            "node",
            exception(
                "Error",
                "getaddrinfo ENOTFOUND payments.internal",
                [node_frame("node:dns", "GetAddrInfoReqWrap.onlookup", 107, in_app=False)],
            ),
        ),
        "dns-resolution",
        "dns_resolution",
        has=("payments.internal",),
    ),
    # ---- Python (sentry.python: Flask, FastAPI, Celery, logging) ------------------------------------
    Row(
        "python",
        "corpus-zero-division",
        corpus("py_a_zerodivision"),
        "division-by-zero",
        "division_by_zero",
        has=("prices = []", "shop/inventory.py:38"),
    ),
    Row(
        "python",
        "corpus-keyerror-reserve",
        corpus("py_a_keyerror_reserve"),
        "missing-key",
        "missing_key",
        has=("`stock` is empty", "shop/inventory.py:42", "`.get(key, default)`"),
        hasnt=("400/422",),
    ),
    Row(
        "python",
        "corpus-logged-sync-failure",
        corpus("py_a_log_sync_store"),
        "logged-error",
        "logged_error",
        has=(
            "shop.inventory",
            "Failed to sync inventory for store %s after %d retries",
            "shop/inventory.py",
            "retry loop gave up",
            "exc_info=True",
        ),
        hasnt=("Not recognised",),
    ),
    Row(
        "python",
        "corpus-fastapi-valueerror",
        corpus("py_a_valueerror_add_to_cart"),
        "validation",
        "validation",
        has=("raw = 'abc'", "shop/inventory.py:17"),
    ),
    Row(
        "python",
        "corpus-fastapi-lookuperror",
        corpus("py_a_fastapi_item_missing"),
        None,
        "unknown",
        has=("Not recognised", "item_id = 42", "shop/inventory.py:61"),
    ),
    Row(
        "python",
        "flask-keyerror-password",
        event(
            "flask",
            exception(
                "KeyError",
                "'password'",
                [
                    FLASK,
                    py_frame(
                        "shop.db",
                        "connect",
                        27,
                        "    password = config['password']",
                        vars={"config": {"host": "'db.internal'", "port": 5432}},
                    ),
                ],
            ),
            request=get("https://shop.example/admin/reports"),
        ),
        "missing-key",
        "missing_key",
        has=("`config` holds only `host`, `port`, not `password`", "shop/db.py:27", "400/422"),
    ),
    Row(
        "python",
        "flask-zero-items",
        event(
            "flask",
            exception(
                "ZeroDivisionError",
                "division by zero",
                [
                    FLASK,
                    py_frame(
                        "shop.cart", "average", 14, "    return total / items", vars={"total": 0, "items": 0}
                    ),
                ],
            ),
            request=get("https://shop.example/cart/summary"),
        ),
        "division-by-zero",
        "division_by_zero",
        has=("`total = 0`", "shop/cart.py:14"),
    ),
    Row(
        "python",
        "flask-none-user",
        event(
            "flask",
            exception(
                "AttributeError",
                "'NoneType' object has no attribute 'email'",
                [
                    FLASK,
                    py_frame(
                        "shop.views",
                        "profile",
                        51,
                        "    return render(user.email)",
                        vars={"user": None, "user_id": "'u_88'"},
                    ),
                ],
            ),
            request=get("https://shop.example/profile/u_88"),
        ),
        "null-reference",
        "null_reference",
        has=("`user = None`", "`Optional` type hints", "404 or validation error"),
    ),
    Row(
        "python",
        "celery-task-bad-number",
        event(
            "celery",
            exception(
                "ValueError",
                "invalid literal for int() with base 10: 'n/a'",
                [
                    CELERY,
                    py_frame(
                        "shop.tasks",
                        "import_row",
                        88,
                        "    qty = int(row['qty'])",
                        vars={"row": {"sku": "'SKU-9'", "qty": "'n/a'"}},
                    ),
                ],
            ),
            transaction="shop.tasks.import_row",
        ),
        "validation",
        "validation",
        has=("dead-letter queue",),
        hasnt=("400/422", "instead of 500"),
    ),
    Row(
        "python",
        "psycopg-refused",
        event(
            "flask",
            exception(
                "OperationalError",
                'connection failed: connection to server at "10.0.3.7", port 5432 failed: '
                "Connection refused\n"
                "\tIs the server running on that host and accepting TCP/IP connections?",
                [FLASK, py_frame("shop.db", "session", 12, "    conn = psycopg.connect(DSN)")],
                module="psycopg",
            ),
            request=get("https://shop.example/orders"),
        ),
        "db-connect-refused",
        "database_connection",
        has=("10.0.3.7:5432",),
    ),
    Row(
        "python",
        "logging-with-breadcrumbs",
        event(
            "flask",
            logger="shop.payments",
            level="error",
            logentry=logentry(
                "Payment webhook for order %s could not be verified",
                ["ord_17"],
                "Payment webhook for order ord_17 could not be verified",
            ),
            breadcrumbs={
                "values": [
                    {
                        "category": "httplib",
                        "type": "http",
                        "data": {
                            "url": "https://api.stripe.com/v1/events/evt_1",
                            "method": "GET",
                            "status_code": 404,
                        },
                    },
                    {"category": "shop.payments", "level": "warning", "message": "signature header missing"},
                ]
            },
            request=get("https://shop.example/webhooks/stripe", "POST"),
        ),
        "logged-error",
        "logged_error",
        has=(
            "shop.payments",
            "signature header missing",
            "api.stripe.com",
            "caught a failure",
            "shop/payments.py",
        ),
        hasnt=("Not recognised",),
    ),
    # ---- Java (sentry.java, Spring Boot) -------------------------------------------------------------
    Row(
        "java",
        "helpful-npe",
        event(
            "java",
            exception(
                "NullPointerException",
                'Cannot invoke "com.shop.orders.Customer.getEmail()" because "customer" is null',
                [
                    SPRING,
                    java_frame("com.shop.orders.OrderController", "place", 41),
                    java_frame("com.shop.orders.OrderService", "notify", 88),
                ],
                module="java.lang",
                mechanism="HandlerExceptionResolver",
            ),
            request=get("https://api.shop.example/orders", "POST"),
        ),
        "null-reference",
        "null_reference",
        has=("OrderService.java:88", "`Optional<T>`", "404 or validation error"),
        hasnt=("Optional` type hints", "optional chaining"),
    ),
    Row(
        "java",
        "arithmetic-by-zero",
        event(
            "java",
            exception(
                "ArithmeticException",
                "/ by zero",
                [SPRING, java_frame("com.shop.reports.Margins", "ratio", 19)],
                module="java.lang",
            ),
        ),
        "division-by-zero",
        "division_by_zero",
        has=("Margins.java:19",),
    ),
    Row(
        "java",
        "number-format",
        event(
            "java",
            exception(
                "NumberFormatException",
                'For input string: "12abc"',
                [SPRING, java_frame("com.shop.cart.CartController", "update", 57)],
                module="java.lang",
            ),
            request=get("https://api.shop.example/cart?qty=12abc", "PUT"),
        ),
        "validation",
        "validation",
        has=("`12abc`", "400/422"),
    ),
    Row(
        "java",
        "index-out-of-bounds",
        event(
            "java",
            exception(
                "IndexOutOfBoundsException",
                "Index 0 out of bounds for length 0",
                [java_frame("com.shop.sync.Importer", "firstRow", 73)],
                module="java.lang",
            ),
        ),
        "index-out-of-range",
        "index_out_of_range",
        has=("`isEmpty()`", "Importer.java:73"),
        hasnt=("500",),
    ),
    Row(
        "java",
        "unique-violation",
        event(
            "java",
            exception(
                "PSQLException",
                'ERROR: duplicate key value violates unique constraint "users_email_key"\n'
                "  Detail: Key (email)=(a@shop.example) already exists.",
                [
                    java_frame(
                        "org.postgresql.core.v3.QueryExecutorImpl", "receiveErrorResponse", 2725, in_app=False
                    )
                ],
                module="org.postgresql.util",
            ),
            exception(
                "DataIntegrityViolationException",
                "could not execute statement; constraint [users_email_key]",
                [SPRING, java_frame("com.shop.users.SignupService", "register", 33)],
                module="org.springframework.dao",
            ),
            request=get("https://api.shop.example/signup", "POST"),
        ),
        "db-unique-violation",
        "database_unique_violation",
        has=("users_email_key", "409 Conflict"),
    ),
    Row(
        "java",
        "concurrent-modification",
        event(
            "java",
            exception(
                "ConcurrentModificationException",
                "",
                [
                    java_frame("java.util.ArrayList$Itr", "checkForComodification", 1095, in_app=False),
                    java_frame("com.shop.cart.Cart", "removeExpired", 64),
                ],
                module="java.util",
            ),
        ),
        "concurrency",
        "concurrency",
        has=("Cart.java:64",),
    ),
    Row(
        "java",
        "logback-logged",
        event(
            "java",
            logger="com.shop.sync.InventorySync",
            level="error",
            logentry=logentry(
                "Failed to sync store {} after {} retries",
                ["17", "3"],
                "Failed to sync store 17 after 3 retries",
            ),
        ),
        "logged-error",
        "logged_error",
        has=("InventorySync.java", 'log.error("…", e)', "Failed to sync store {} after {} retries"),
    ),
    # ---- Go (sentry-go) --------------------------------------------------------------------------------
    Row(
        "go",
        "nil-pointer",
        event(
            "go",
            exception(
                "runtime.Error",
                "runtime error: invalid memory address or nil pointer dereference",
                [
                    NET_HTTP,
                    go_frame(
                        "github.com/acme/shop/orders",
                        "(*Handler).Get",
                        "/src/shop/orders/handler.go",
                        57,
                        "\treturn json.NewEncoder(w).Encode(order.Customer.Name)",
                    ),
                ],
                mechanism="recover",
            ),
            request=get("https://api.shop.example/orders/42"),
        ),
        "null-reference",
        "null_reference",
        has=("`err` and `ok`", "handler.go:57"),
        hasnt=("Optional` type hints", "optional chaining"),
    ),
    Row(
        "go",
        "index-out-of-range",
        event(
            "go",
            exception(
                "runtime.boundsError",
                "runtime error: index out of range [3] with length 3",
                [
                    go_frame(
                        "github.com/acme/shop/importer",
                        "parseLine",
                        "/src/shop/importer/csv.go",
                        40,
                        "\tprice := fields[3]",
                    )
                ],
                mechanism="recover",
            ),
        ),
        "index-out-of-range",
        "index_out_of_range",
        has=("index `3`", "`len()` check", "csv.go:40"),
    ),
    Row(
        "go",
        "pgx-refused",
        event(
            "go",
            exception(
                "*pgconn.ConnectError",
                "failed to connect to `user=shop database=shop`: 10.0.4.12:5432 (db.internal): dial error: "
                "dial tcp 10.0.4.12:5432: connect: connection refused",
                [
                    go_frame(
                        "github.com/acme/shop/store",
                        "Open",
                        "/src/shop/store/db.go",
                        22,
                        "\tpool, err := pgxpool.New(ctx, dsn)",
                    )
                ],
            ),
        ),
        "db-connect-refused",
        "database_connection",
        has=("10.0.4.12:5432",),
    ),
    Row(
        "go",
        "deadline-exceeded",
        event(
            "go",
            exception(
                "*url.Error",
                'Post "https://payments.internal/charge": context deadline exceeded',
                [
                    go_frame(
                        "github.com/acme/shop/payments",
                        "(*Client).Charge",
                        "/src/shop/payments/client.go",
                        81,
                        "\tresp, err := c.http.Do(req)",
                    )
                ],
            ),
            request=get("https://api.shop.example/checkout", "POST"),
        ),
        "upstream-timeout",
        "upstream_timeout",
        has=("payments.internal",),
    ),
    Row(
        "go",
        "strconv",
        event(
            "go",
            exception(
                "*strconv.NumError",
                'strconv.Atoi: parsing "abc": invalid syntax',
                [
                    go_frame(
                        "github.com/acme/shop/cart",
                        "(*Handler).Update",
                        "/src/shop/cart/handler.go",
                        33,
                        '\tqty, err := strconv.Atoi(r.FormValue("qty"))',
                    )
                ],
            ),
            request=get("https://api.shop.example/cart", "PUT"),
        ),
        "validation",
        "validation",
        has=("`abc`", "400/422"),
    ),
    Row(
        "go",
        "integer-divide-by-zero",
        event(
            "go",
            exception(
                "runtime.Error",
                "runtime error: integer divide by zero",
                [
                    go_frame(
                        "github.com/acme/shop/reports",
                        "Average",
                        "/src/shop/reports/avg.go",
                        12,
                        "\treturn total / count",
                    )
                ],
                mechanism="recover",
            ),
        ),
        "division-by-zero",
        "division_by_zero",
        has=("avg.go:12",),
    ),
    # ---- Ruby (sentry-ruby, Rails) ---------------------------------------------------------------------
    Row(
        "ruby",
        "nomethod-nil",
        event(
            "ruby",
            exception(
                "NoMethodError",
                "undefined method `name' for nil",
                [
                    RAILS,
                    ruby_frame(
                        "app/controllers/orders_controller.rb",
                        "show",
                        14,
                        "    @customer_name = @order.customer.name",
                        vars={"@order": "#<Order id: 42>", "customer": "nil"},
                    ),
                ],
            ),
            request=get("https://shop.example/orders/42"),
        ),
        "null-reference",
        "null_reference",
        has=("`&.`", "orders_controller.rb:14"),
        hasnt=("Optional` type hints", "optional chaining"),
    ),
    Row(
        "ruby",
        "record-not-found",
        event(
            "ruby",
            exception(
                "ActiveRecord::RecordNotFound",
                "Couldn't find Order with 'id'=42",
                [
                    RAILS,
                    ruby_frame(
                        "app/controllers/orders_controller.rb",
                        "set_order",
                        61,
                        "    @order = Order.find(params[:id])",
                    ),
                ],
            ),
            request=get("https://shop.example/orders/42"),
        ),
        "record-not-found",
        "not_found",
        has=("`Order`", "404"),
    ),
    Row(
        "ruby",
        "keyerror-fetch",
        event(
            "ruby",
            exception(
                "KeyError",
                "key not found: :password",
                [
                    ruby_frame(
                        "lib/shop/mailer_config.rb", "smtp", 9, "    password: settings.fetch(:password)"
                    )
                ],
            ),
        ),
        "missing-key",
        "missing_key",
        has=("`fetch(key, default)`", "mailer_config.rb:9"),
        hasnt=("400/422",),
    ),
    Row(
        "ruby",
        "divided-by-zero",
        event(
            "ruby",
            exception(
                "ZeroDivisionError",
                "divided by 0",
                [
                    ruby_frame(
                        "app/models/cart.rb",
                        "average_price",
                        23,
                        "    total / items.size",
                        vars={"total": "0", "items": "[]"},
                    )
                ],
            ),
        ),
        "division-by-zero",
        "division_by_zero",
        has=("cart.rb:23", "`total = 0`"),
    ),
    Row(
        "ruby",
        "pg-connection-bad",
        event(
            "ruby",
            exception(
                "PG::ConnectionBad",
                'connection to server at "10.0.3.7", port 5432 failed: Connection refused\n'
                "\tIs the server running on that host and accepting TCP/IP connections?",
                [
                    ruby_frame(
                        "pg-1.5.9/lib/pg/connection.rb", "connect_to_hosts", 823, "      raise", in_app=False
                    )
                ],
            ),
        ),
        "db-connect-refused",
        "database_connection",
        has=("10.0.3.7:5432",),
    ),
    Row(
        "ruby",
        "json-parser-error",
        event(
            "ruby",
            exception(
                "JSON::ParserError",
                "unexpected token at '<html><body>Bad Gateway</body></html>'",
                [ruby_frame("app/services/rates_client.rb", "fetch", 18, "    JSON.parse(response.body)")],
            ),
            request=get("https://shop.example/checkout/rates"),
        ),
        "bad-json",
        "bad_json",
        has=("HTML", "rates_client.rb:18"),
    ),
    # ---- PHP (sentry-php, Laravel) ---------------------------------------------------------------------
    Row(
        "php",
        "member-function-on-null",
        event(
            "php",
            exception(
                "Error",
                "Call to a member function getName() on null",
                [
                    LARAVEL,
                    php_frame(
                        "app/Http/Controllers/OrderController.php",
                        "App\\Http\\Controllers\\OrderController::show",
                        33,
                        "        return $order->getCustomer()->getName();",
                    ),
                ],
            ),
            request=get("https://shop.example/orders/42"),
        ),
        "null-reference",
        "null_reference",
        has=("`?->`", "OrderController.php:33"),
        hasnt=("Optional` type hints",),
    ),
    Row(
        "php",
        "undefined-array-key",
        event(
            "php",
            exception(
                "ErrorException",
                'Warning: Undefined array key "password"',
                [
                    php_frame(
                        "app/Services/Mailer.php",
                        "App\\Services\\Mailer::connect",
                        21,
                        "        $password = $config['password'];",
                    )
                ],
            ),
        ),
        "missing-key",
        "missing_key",
        has=("`array_key_exists()`", "Mailer.php:21"),
    ),
    Row(
        "php",
        "division-by-zero",
        event(
            "php",
            exception(
                "DivisionByZeroError",
                "Division by zero",
                [
                    LARAVEL,
                    php_frame(
                        "app/Reports/Margin.php",
                        "App\\Reports\\Margin::ratio",
                        17,
                        "        return $profit / $revenue;",
                    ),
                ],
            ),
            request=get("https://shop.example/reports/margin"),
        ),
        "division-by-zero",
        "division_by_zero",
        has=("Margin.php:17",),
    ),
    Row(
        "php",
        "pdo-refused",
        event(
            "php",
            exception(
                "PDOException",
                "SQLSTATE[HY000] [2002] Connection refused",
                [
                    php_frame(
                        "vendor/laravel/framework/src/Illuminate/Database/Connectors/Connector.php",
                        "Illuminate\\Database\\Connectors\\Connector::createPdoConnection",
                        65,
                        "        return new PDO($dsn, $username, $password, $options);",
                        in_app=False,
                    )
                ],
            ),
            request=get("https://shop.example/"),
        ),
        "db-connect-refused",
        "database_connection",
    ),
    Row(
        "php",
        "query-exception-duplicate",
        event(
            "php",
            exception(
                "Illuminate\\Database\\UniqueConstraintViolationException",
                "SQLSTATE[23000]: Integrity constraint violation: 1062 Duplicate entry 'a@shop.example' "
                "for key 'users.users_email_unique' (Connection: mysql, SQL: insert into `users` (`email`) "
                "values (a@shop.example))",
                [
                    LARAVEL,
                    php_frame(
                        "app/Http/Controllers/SignupController.php",
                        "App\\Http\\Controllers\\SignupController::store",
                        28,
                        "        $user = User::create($data);",
                    ),
                ],
            ),
            request=get("https://shop.example/signup", "POST"),
        ),
        "db-unique-violation",
        "database_unique_violation",
        has=("409 Conflict",),
    ),
    Row(
        "php",
        "monolog-logged",
        event(
            "php",
            logger="monolog.payments",
            level="error",
            message={
                "message": "Payment webhook failed for order 17",
                "formatted": "Payment webhook failed for order 17",
            },
        ),
        "logged-error",
        "logged_error",
        has=("monolog.payments", "['exception' => $e]"),
    ),
    # ---- .NET (sentry-dotnet, ASP.NET Core) -------------------------------------------------------------
    Row(
        "dotnet",
        "null-reference",
        event(
            "dotnet",
            exception(
                "System.NullReferenceException",
                "Object reference not set to an instance of an object.",
                [ASPNET, dotnet_frame("Shop.Api.Controllers.OrdersController", "Get", 44)],
                module="System.Private.CoreLib, Version=8.0.0.0, Culture=neutral, "
                "PublicKeyToken=7cec85d7bea7798e",
            ),
            request=get("https://api.shop.example/orders/42"),
        ),
        "null-reference",
        "null_reference",
        has=("nullable reference types", "OrdersController.cs:44"),
        hasnt=("Optional` type hints", "optional chaining"),
    ),
    Row(
        "dotnet",
        "key-not-found",
        event(
            "dotnet",
            exception(
                "System.Collections.Generic.KeyNotFoundException",
                "The given key 'password' was not present in the dictionary.",
                [dotnet_frame("Shop.Api.Mail.SmtpSettings", "Load", 18)],
            ),
        ),
        "missing-key",
        "missing_key",
        has=("`password`", "`TryGetValue()`"),
    ),
    Row(
        "dotnet",
        "divide-by-zero",
        event(
            "dotnet",
            exception(
                "System.DivideByZeroException",
                "Attempted to divide by zero.",
                [ASPNET, dotnet_frame("Shop.Api.Reports.MarginReport", "Ratio", 27)],
            ),
            request=get("https://api.shop.example/reports/margin"),
        ),
        "division-by-zero",
        "division_by_zero",
        has=("MarginReport.cs:27",),
    ),
    Row(
        "dotnet",
        "format-exception",
        event(
            "dotnet",
            exception(
                "System.FormatException",
                "The input string 'abc' was not in a correct format.",
                [ASPNET, dotnet_frame("Shop.Api.Controllers.CartController", "Update", 35)],
            ),
            request=get("https://api.shop.example/cart", "PUT"),
        ),
        "validation",
        "validation",
        has=("400/422",),
    ),
    Row(
        "dotnet",
        "json-invalid-start",
        event(
            "dotnet",
            exception(
                "System.Text.Json.JsonException",
                "'<' is an invalid start of a value. Path: $ | LineNumber: 0 | BytePositionInLine: 0.",
                [dotnet_frame("Shop.Api.Rates.RatesClient", "GetAsync", 52)],
            ),
        ),
        "bad-json",
        "bad_json",
        has=("HTML",),
    ),
    Row(
        "dotnet",
        "ilogger-logged",
        event(
            "dotnet",
            logger="Shop.Api.Sync.OrderSync",
            level="error",
            logentry=logentry("Failed to sync order {OrderId}", ["17"], "Failed to sync order 17"),
        ),
        "logged-error",
        "logged_error",
        has=("Shop.Api.Sync.OrderSync", 'logger.LogError(ex, "…")'),
    ),
]


def analyse(payload: dict[str, Any]) -> tuple[AnalysisResult, str | None]:
    """The analysis of one payload, the way the stored event reaches the analyser."""
    prepared = prepare_event(1, payload, normalize_sentry_event, received_at=NOW)
    analysis_input: AnalysisInput = analysis_input_for(
        json.loads(prepared.data_json), prepared.title, 1, "shop"
    )
    rule = match_rule(analysis_input.event, analysis_input.issue_title)
    return HeuristicProvider().analyze(analysis_input).result, rule.id if rule else None


@pytest.mark.parametrize("row", TABLE, ids=[f"{row.platform}-{row.name}" for row in TABLE])
def test_each_labelled_event_gets_its_rule_and_advice_that_fits_its_platform(row: Row) -> None:
    result, rule = analyse(row.payload)
    text = "\n".join((result.summary, result.root_cause, result.suggested_fix))
    assert (rule, result.category) == (row.rule, row.category), text
    missing = [word for word in row.has if word not in text]
    assert not missing, f"{missing} not in:\n{text}"
    unwanted = [word for word in row.hasnt if word in text]
    assert not unwanted, f"{unwanted} in:\n{text}"


def test_the_table_covers_every_platform_with_at_least_forty_events() -> None:
    per_platform = Counter(row.platform for row in TABLE)
    assert len(TABLE) >= 40
    assert set(per_platform) == set(PLATFORMS)
    assert min(per_platform.values()) >= 5, per_platform
    assert len({(row.platform, row.name) for row in TABLE}) == len(TABLE)
