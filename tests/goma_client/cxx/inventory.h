// A small C++ program for the goma client end-to-end test: enough of the
// standard library (containers, strings, algorithms, smart pointers,
// streams, templates) that the compile pulls in libstdc++'s headers.
#ifndef GOMABARN_E2E_INVENTORY_H
#define GOMABARN_E2E_INVENTORY_H

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace e2e
{

struct Item {
    std::string name;
    int count;
    double price;
};

class Inventory
{
  public:
    void add(std::string name, int count, double price);
    int total_count() const;
    double value() const;
    std::vector<std::string> names_by_value() const;
    std::map<char, int> by_initial() const;

  private:
    std::vector<std::unique_ptr<Item>> items_;
};

template <typename T> T clamp_sum(const std::vector<T> &v, T limit)
{
    T sum{};
    for (const T &x : v)
        sum = sum + x > limit ? limit : sum + x;
    return sum;
}

} // namespace e2e

#endif
