# docs.mk: the documents' facts (included by the Makefile).
#
# A figure, line number or report excerpt in README.md, GUIDE.md,
# ARCHITECTURE.md, expected/README.md or a lab's handout is either written
# from the expected tables and the sources (a marked region, rewritten by
# `make docs`) or checked against them (`make check-docs`, which
# `make test` runs): scripts/check_docs.py --help says which is which.
# GUIDE.md's lab table is written from the labs' manifests (scripts/labs.py),
# and its table of contents from its headings (scripts/toc.py).

.PHONY: docs check-docs

docs: ## rewrite the documents' generated regions and values from the expected tables and the sources
	@$(PYTHON) scripts/check_docs.py --write
	@$(PYTHON) scripts/labs.py tables
	@$(PYTHON) scripts/toc.py

check-docs: ## fail on a document's figure, quoted line or excerpt that no longer matches its source
	@$(PYTHON) scripts/check_docs.py
	@$(PYTHON) scripts/labs.py tables --check
	@$(PYTHON) scripts/toc.py --check
