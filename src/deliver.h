/* deliver.h: placeholder */
