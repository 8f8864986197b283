# Pins the C++ dialect on our objects only: a global -std=c++17 would also
# reach the generated C file ngx_modules.c and break it under -Werror.  The
# version from VERSION (read by config) goes the same way.

for provision_x_src in $PROVISION_X_SRCS
do
    provision_x_obj="addon/`basename \`dirname $provision_x_src\``"
    provision_x_obj="$provision_x_obj/`basename $provision_x_src .cpp`"
    echo "$NGX_OBJS/$provision_x_obj.o: CFLAGS += -std=c++17" \
         "-DNGX_HTTP_PROVISION_X_VERSION='\"$PROVISION_X_VERSION\"'" \
        >> $NGX_MAKEFILE
done
