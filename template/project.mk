# This project's own make targets. The Makefile includes this file last; the project owns
# it, so `copier update` never changes it (the template owns the Makefile). For example:
#
# docs: ## Build the documentation
# 	$(RUN) python -m sphinx docs docs/_build
