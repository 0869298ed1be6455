"""Template overrides switched at run time: the directory variants/<name>/ named by the file
DESKAPP_VARIANT_FILE (empty or absent: no override, Django's own admin templates)."""

import os

from django.conf import settings
from django.template.loaders import filesystem


class Loader(filesystem.Loader):
    def get_dirs(self):
        path = os.environ.get("DESKAPP_VARIANT_FILE", "")
        try:
            with open(path, encoding="utf-8") as f:
                names = f.read().split()
        except OSError:
            names = []
        return [settings.VARIANTS_DIR / name for name in names]
