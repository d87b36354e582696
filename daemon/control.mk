# The control socket (daemon/control.c), its client anomctl, and their
# tests.  Included at the end of daemon/local.mk.
daemon_libdaemon_a_SOURCES += daemon/control.c
daemon_libdaemon_a_CFLAGS += $(EVENT_CFLAGS)

# anomctl is a plain blocking client: cJSON only, no libevent.
bin_PROGRAMS += anomctl
anomctl_SOURCES = daemon/anomctl.c
anomctl_CFLAGS = $(AM_CFLAGS) $(CJSON_CFLAGS)
anomctl_LDADD = $(CJSON_LIBS)

check_PROGRAMS += tests/check_control
TESTS += tests/check_control
tests_check_control_SOURCES = tests/check_control.c
tests_check_control_CFLAGS = $(AM_CFLAGS) $(EVENT_CFLAGS) $(CJSON_CFLAGS) \
	$(CHECK_CFLAGS)
tests_check_control_LDADD = $(DAEMON_LDADD) $(CHECK_LIBS)

dist_man_MANS += man/anomctl.8

# Its bash completion, named after the command as bash-completion wants.
dist_bashcompletion_DATA = daemon/completion/anomctl
