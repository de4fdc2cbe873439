#include "inventory.h"

#include <algorithm>
#include <numeric>

namespace e2e
{

void Inventory::add(std::string name, int count, double price)
{
    items_.push_back(std::make_unique<Item>(Item{std::move(name), count, price}));
}

int Inventory::total_count() const
{
    return std::accumulate(items_.begin(), items_.end(), 0,
                           [](int acc, const std::unique_ptr<Item> &i) { return acc + i->count; });
}

double Inventory::value() const
{
    double v = 0;
    for (const auto &i : items_)
        v += i->count * i->price;
    return v;
}

std::vector<std::string> Inventory::names_by_value() const
{
    std::vector<const Item *> sorted;
    for (const auto &i : items_)
        sorted.push_back(i.get());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Item *a, const Item *b) { return a->count * a->price > b->count * b->price; });
    std::vector<std::string> out;
    std::transform(sorted.begin(), sorted.end(), std::back_inserter(out), [](const Item *i) { return i->name; });
    return out;
}

std::map<char, int> Inventory::by_initial() const
{
    std::map<char, int> m;
    for (const auto &i : items_)
        if (!i->name.empty())
            m[i->name[0]] += i->count;
    return m;
}

} // namespace e2e
