# Builds the measuring tools of the benchmark (make -f tests/bench/tools.mk
# T=DIR); run.sh calls it.  Same flags as the project.
T ?= build/bench-tools
CC ?= cc
WARN = -Wall -Wextra -Werror
BCFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -O2
PKG_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)
D = tests/bench
TOOLS = spawnrate fsyncrate stamp waitfiles submit bsclient minhttpd genspool follow dirscan

all: $(addprefix $(T)/,$(TOOLS))

$(T)/%: $(D)/%.c $(D)/common.h
	@mkdir -p $(T)
	$(CC) $(BCFLAGS) -o $@ $< $(LDLIBS_$*)

# stamp: static when the C library allows it (shorter start-up), else dynamic
$(T)/stamp: $(D)/stamp.c $(D)/common.h
	@mkdir -p $(T)
	$(CC) $(BCFLAGS) -static -o $@ $< 2>/dev/null || $(CC) $(BCFLAGS) -o $@ $<

LDLIBS_submit = -luuid
LDLIBS_genspool = -luuid
LDLIBS_minhttpd = $(PKG_CFLAGS) $(MHD_LIBS) -luuid -lpthread

.PHONY: all
