"""Run by the mkdocs-gen-files plugin at every build: adds the generated pages and their navigation.

The pages themselves are made by ``package_pages.py`` beside this script, from what the repository holds when
the site is built (see that module for what each package gets). The ``Packages`` entry of the navigation in
``mkdocs.yml`` is replaced here by a section that lists every package and its pages.
"""

import sys
from pathlib import Path

import mkdocs_gen_files

DOCUMENTATION_FOLDER = Path(__file__).resolve().parent
for folder in (DOCUMENTATION_FOLDER, DOCUMENTATION_FOLDER.parent / "tools"):  # the generator, the discovery
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import package_pages  # noqa: E402

site = package_pages.build_site(package_pages.REPOSITORY_ROOT)
package_pages.write_pages(site.pages, mkdocs_gen_files.open)
configuration = mkdocs_gen_files.config
configuration["nav"] = package_pages.expand_navigation(configuration["nav"], site.packages_section)
