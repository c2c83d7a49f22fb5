// libnftnl's headers use FILE and size types without including their headers.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <cstdio>

#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
