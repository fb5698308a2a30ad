# install.mk: make install and make uninstall (included by the Makefile).
#
#   PREFIX/share/racelab/   the tree (sources, labs/, scripts/, expected/,
#                           packs/, the Makefile and mk/), without build/,
#                           results/ and work/: the installed racelab finds
#                           its labs and build rules there
#   PREFIX/bin/racelab      a launcher that runs share/racelab/racelab
#
# racelab run and racelab check-pack need nothing more; the labs need
# their builds: make -C PREFIX/share/racelab (as root for a system PREFIX).
# DESTDIR, as usual, is prepended to every path written but not to the
# path the launcher names.

PREFIX ?= /usr/local
DESTDIR ?=
RACELAB_SHARE = $(PREFIX)/share/racelab
INSTALL_EXCLUDE := ./build ./results ./work ./.git __pycache__

.PHONY: install uninstall

install: ## install the racelab command: the tree in PREFIX/share/racelab, a launcher in PREFIX/bin (PREFIX=/usr/local)
	@case '$(PREFIX)' in /*) ;; *) echo "racelab: PREFIX must be an absolute path, not '$(PREFIX)'" >&2; exit 2;; esac
	rm -rf '$(DESTDIR)$(RACELAB_SHARE)'
	mkdir -p '$(DESTDIR)$(RACELAB_SHARE)' '$(DESTDIR)$(PREFIX)/bin'
	tar -cf - $(INSTALL_EXCLUDE:%=--exclude=%) . | tar -xf - -C '$(DESTDIR)$(RACELAB_SHARE)'
	printf '#!/bin/sh\n# racelab, installed by make install: the tree is in %s\nexec "$${PYTHON:-python3}" %s "$$@"\n' \
	  '$(RACELAB_SHARE)' '$(RACELAB_SHARE)/racelab' > '$(DESTDIR)$(PREFIX)/bin/racelab'
	chmod 755 '$(DESTDIR)$(PREFIX)/bin/racelab'
	@echo "installed $(DESTDIR)$(PREFIX)/bin/racelab (racelab --help)"

uninstall: ## remove what make install put in PREFIX
	@case '$(PREFIX)' in /*) ;; *) echo "racelab: PREFIX must be an absolute path, not '$(PREFIX)'" >&2; exit 2;; esac
	rm -rf '$(DESTDIR)$(RACELAB_SHARE)'
	rm -f '$(DESTDIR)$(PREFIX)/bin/racelab'

# A course pack's check, as check-rates is the labs' (racelab/pack.py).
PACK ?= packs/intro
.PHONY: check-pack
check-pack: ## run a course pack (PACK=packs/intro) and check it against its expectations table
	@$(PYTHON) scripts/check_pack.py $(PACK)
