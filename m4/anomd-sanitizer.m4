dnl ANOMD_SANITIZERS: --enable-sanitizers[=address,undefined]
AC_DEFUN([ANOMD_SANITIZERS], [
AC_ARG_ENABLE([sanitizers],
    [AS_HELP_STRING([--enable-sanitizers@<:@=LIST@:>@],
	[build with -fsanitize=LIST (default address,undefined)])],
    [], [enable_sanitizers=no])
SANITIZER_CFLAGS=""
SANITIZER_LDFLAGS=""
AS_IF([test "x$enable_sanitizers" != xno], [
	AS_IF([test "x$enable_sanitizers" = xyes], [enable_sanitizers="address,undefined"])
	san_flags="-fsanitize=$enable_sanitizers -fno-omit-frame-pointer -fno-sanitize-recover=all"
	save_CFLAGS="$CFLAGS"
	save_LDFLAGS="$LDFLAGS"
	CFLAGS="$CFLAGS $san_flags"
	LDFLAGS="$LDFLAGS $san_flags"
	AC_MSG_CHECKING([whether $CC supports $san_flags])
	AC_LINK_IFELSE([AC_LANG_PROGRAM([], [return 0;])],
	    [AC_MSG_RESULT([yes])
	     SANITIZER_CFLAGS="$san_flags"
	     SANITIZER_LDFLAGS="$san_flags"],
	    [AC_MSG_RESULT([no])
	     AC_MSG_ERROR([$CC cannot build with $san_flags])])
	CFLAGS="$save_CFLAGS"
	LDFLAGS="$save_LDFLAGS"
])
AC_SUBST([SANITIZER_CFLAGS])
AC_SUBST([SANITIZER_LDFLAGS])
])
