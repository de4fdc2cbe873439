#include <iomanip>
#include <iostream>
#include <sstream>

#include "inventory.h"

int main()
{
    e2e::Inventory inv;
    inv.add("anvil", 2, 120.5);
    inv.add("bolt", 500, 0.1);
    inv.add("axe", 7, 30.0);
    std::ostringstream os;
    os << std::fixed << std::setprecision(2) << inv.value() << " in " << inv.total_count() << " items:";
    for (const std::string &n : inv.names_by_value())
        os << ' ' << n;
    for (const auto &kv : inv.by_initial())
        os << ' ' << kv.first << '=' << kv.second;
    os << " clamp=" << e2e::clamp_sum(std::vector<int>{3, 4, 5}, 10);
    std::cout << os.str() << '\n';
    return 0;
}
