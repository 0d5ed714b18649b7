/* normalise.h: placeholder */
