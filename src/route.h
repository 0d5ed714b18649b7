/* route.h: placeholder */
