#pragma once
// The cap on distinct `table` label values of one database: the first `max` names seen keep
// their own label, any later new name becomes "other" ("none" is not counted). A name seen once
// keeps its label for the life of the process. Thread-safe (a mutex; one lookup per statement).

#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace sidelight::dbproxy {

class table_labels {
  public:
    explicit table_labels(std::size_t max) : max_(max) {}

    // The label for `table`: itself, or "other" once the cap is reached.
    std::string_view label(const std::string& table);

  private:
    std::mutex mutex_;
    std::size_t max_;
    std::set<std::string, std::less<>> known_;
};

}  // namespace sidelight::dbproxy
