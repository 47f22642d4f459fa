"""A small real Django project in one module for
tests/test_wsgi_frameworks.py: minimal settings, a sqlite database in
$DJANGO_TEST_DIR (migrated at import, before the workers fork), the session
framework on that database, CSRF protection, file uploads (spooled to disk
above 64 KiB) and cookies."""
import hashlib
import os

import django
from django.conf import settings

DATA = os.environ["DJANGO_TEST_DIR"]

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-secret-not-for-production",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"],
    MIDDLEWARE=[
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.csrf.CsrfViewMiddleware",
    ],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(DATA, "db.sqlite3")}},
    SESSION_ENGINE="django.contrib.sessions.backends.db",
    FILE_UPLOAD_MAX_MEMORY_SIZE=65536,
    FILE_UPLOAD_TEMP_DIR=DATA,
    USE_TZ=True,
    LOGGING_CONFIG=None,
)
django.setup()

from django.core.management import call_command  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.middleware.csrf import get_token  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

call_command("migrate", verbosity=0, interactive=False)


def index(request):
    return HttpResponse("hello from django")


def item(request, n):
    return JsonResponse({"n": n, "path": request.path, "q": request.GET.dict(), "pid": os.getpid(),
                         "secure": request.is_secure(), "host": request.get_host()})


def csrf(request):
    return JsonResponse({"token": get_token(request)})


def form(request):
    files = {}
    for name in request.FILES:
        for f in request.FILES.getlist(name):
            data = f.read()
            files.setdefault(name, []).append({"name": f.name, "size": len(data),
                                               "sha1": hashlib.sha1(data).hexdigest(),
                                               "on_disk": hasattr(f, "temporary_file_path")})
    return JsonResponse({"post": {k: request.POST.getlist(k) for k in request.POST if k != "csrfmiddlewaretoken"},
                         "files": files})


@csrf_exempt
def upload(request):
    """One file upload, for tests/test_unread_body.py: Django reads exactly
    CONTENT_LENGTH bytes of the body (never the record that ends it)."""
    f = request.FILES["file"]
    digest = hashlib.sha1()
    for chunk in f.chunks():
        digest.update(chunk)
    return JsonResponse({"size": f.size, "sha1": digest.hexdigest()})


def session_view(request):
    request.session["n"] = request.session.get("n", 0) + 1
    return JsonResponse({"n": request.session["n"], "pid": os.getpid()})


def cookie(request):
    resp = JsonResponse(dict(request.COOKIES))
    if "set" in request.GET:
        resp.set_cookie("colour", request.GET["set"], httponly=True, samesite="Lax")
    return resp


urlpatterns = [
    path("", index),
    path("items/<int:n>/", item),
    path("csrf/", csrf),
    path("form/", form),
    path("upload/", upload),
    path("session/", session_view),
    path("cookie/", cookie),
]

application = get_wsgi_application()
