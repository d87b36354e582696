systemdsystemunit_DATA = systemd/anomd.service
sysusers_DATA = systemd/sysusers.d/anomd.conf
EXTRA_DIST += systemd/anomd.service.in systemd/sysusers.d/anomd.conf
CLEANFILES += systemd/anomd.service

systemd/anomd.service: $(srcdir)/systemd/anomd.service.in Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && \
	sed -e 's|@sbindir[@]|$(sbindir)|g' $(srcdir)/systemd/anomd.service.in >$@
